"""Which fault (if any) a request gets: forced by header or model name, or drawn at the
model's configured rates from a per-request generator seeded by the request itself.

Forcing, so tests are deterministic:
    header ``x-sim-fault: rate_limit``  or a model name containing ``fault-rate_limit``;
    codes work too: ``fault-429``, ``fault-500``, ``fault-503``, ``fault-529``,
    ``fault-401``, ``fault-404``, ``fault-400``;
    a suffix ``xN`` fails only the first N tries of an identical request (``fault-429x2``:
    two 429s, then a normal answer), for retry tests.
The generator is seeded from (seed, provider, model, body digest, how many times that body
was seen), so a run gives the same faults whatever order concurrent requests arrive in.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from harness.simulator.config import FAULT_KINDS, STREAM_ONLY_FAULTS, ModelScript

_SPEC = re.compile(r"fault-([a-z_]+?|\d{3})(?:x(\d+))?(?![A-Za-z0-9_])")
_CODES = {
    "429": ("rate_limit", 429),
    "500": ("server_error", 500),
    "503": ("server_error", 503),
    "529": ("overloaded", 529),
    "401": ("auth", 401),
    "404": ("not_found", 404),
    "400": ("invalid_request", 400),
}
#: Forced-only kinds on top of FAULT_KINDS.
EXTRA_KINDS = ("auth", "not_found", "invalid_request")


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int | None = None
    #: fail only the first ``times`` tries of an identical request (None: always)
    times: int | None = None


def forced(header: str | None, model: str) -> Fault | None:
    """The fault a request asks for, or None. Unknown names are ignored (and then answered
    normally), so a real model called e.g. "fault-tolerant" is not hijacked."""
    for text in (f"fault-{header.strip()}" if header else None, model):
        if not text:
            continue
        for match in _SPEC.finditer(text):
            name, times = match.group(1), match.group(2)
            if name in _CODES:
                kind, status = _CODES[name]
            elif name in FAULT_KINDS or name in EXTRA_KINDS:
                kind, status = name, None
            else:
                continue
            return Fault(kind, status, int(times) if times else None)
    return None


def request_rng(
    seed: int, provider: str, model: str, digest: str, occurrence: int
) -> random.Random:
    key = f"{seed}|{provider}|{model}|{digest}|{occurrence}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def body_digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def draw(script: ModelScript, stream: bool, u: float) -> Fault | None:
    """Walk the cumulative rates with one uniform draw ``u``; stream-only faults are not
    candidates for a plain request."""
    edge = 0.0
    for kind, rate in script.faults:
        if kind in STREAM_ONLY_FAULTS and not stream:
            continue
        edge += rate
        if u < edge:
            return Fault(kind)
    return None
