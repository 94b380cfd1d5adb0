"""Split one run across machines: ``--llm-shard K/N`` keeps a stable share of the items.

A suite cell belongs to the shard picked by a hash of its identity (suite name, case id,
target, temperature, repeat), never by its position in the collection, so adding cases,
targets or suites never moves an existing cell to another shard, and every machine of a CI
matrix computes the same split without talking to the others. Any other test (a plain
pytest test, an ``llm``-fixture test) is placed by its node id the same way, so each one
also runs in exactly one shard.

Shards are put back together by ``llm-harness report SHARD_RUN...`` (one run folder) and
``llm-harness cache merge`` (one cache).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHAPE = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}

    def keeps(self, identity: str) -> bool:
        return shard_of(identity, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> Shard(2, 4); anything else is a ValueError saying what is expected."""
    match = _SHAPE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"expected K/N, the K-th of N shards (e.g. 2/4), got {text!r}"
        )
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ValueError(
            f"shard {index}/{count} does not exist: K must be 1..N and N at least 1 "
            f"(e.g. 1/{max(count, 1)} .. {max(count, 1)}/{max(count, 1)})"
        )
    return Shard(index, count)


def shard_of(identity: str, count: int) -> int:
    """The 1-based shard of ``identity`` among ``count``: uniform and stable across
    machines and Python versions (sha256, not the salted built-in hash)."""
    digest = hashlib.sha256(identity.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def cell_identity(
    suite: str, case_id: str, target: str, temperature: float | None, repeat: int
) -> str:
    """What makes a suite cell itself, independent of everything else collected."""
    temp = "default" if temperature is None else f"{temperature:g}"
    return "\x1f".join(("cell", suite, case_id, target, temp, str(repeat)))
