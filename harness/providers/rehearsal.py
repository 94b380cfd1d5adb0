"""A rehearsal: one call through a new provider's real client, answered in memory, before any
call of the run is timed.

Why: an SDK client does work on its first request that its construction does not. The
openai, anthropic and groq clients look up the platform in a worker thread (every call of the
first burst starts one, as none has finished), and pydantic builds the validators of request
and response types on first use; mistralai's first call costs several times a later one.
On a run, that work fell on the first burst of timed calls (measured: the first 16 calls of
each provider were held up by 60-400 ms). Rehearsed, it happens in the thread that builds the
provider (Runner.prepare), while no call is in flight.

Nothing is sent: the provider's transport (harness.providers._transport) answers the request
with a reply built by the simulator's wire modules, the same bodies the adapters are tested
against. A provider whose transport is not the harness's (``options: {transport: httpx}``)
or that speaks no HTTP (local, echo) is not rehearsed. A rehearsal that fails is only logged:
the run's real calls report their own errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from typing import Any

from harness.providers.base import Provider
from harness.types import Message, Request

log = logging.getLogger("harness.providers.rehearsal")

#: The wire protocol each HTTP provider speaks (the simulator's name for it).
WIRES = {
    "openai": "openai",
    "azure": "openai",
    "openai-compatible": "openai",
    "groq": "groq",
    "mistral": "mistral",
    "anthropic": "anthropic",
}


def rehearse(provider: Provider, transports: list[Any], model: str) -> bool:
    """One call through ``provider`` with ``transports`` answering in memory. Must not run
    on an event loop. True when the call went through."""
    wire = WIRES.get(provider.name)
    if wire is None or not transports or _loop_running():
        return False
    respond = _responder(wire)
    for transport in transports:
        transport.rehearse = respond
    request = Request(
        provider=provider.name,
        model=model,
        messages=(Message("user", "rehearsal"),),
        max_tokens=1,
        timeout_s=10,
    )
    try:
        asyncio.run(provider.complete(request))
    except Exception as exc:  # costs only the warm-up; the real calls report their errors
        log.debug("rehearsal of %s failed: %s", provider.name, exc)
        return False
    finally:
        for transport in transports:
            transport.rehearse = None
    return True


def _loop_running() -> bool:
    """An event loop runs in this thread (a library caller inside async code): no rehearsal,
    as asyncio.run cannot start here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _responder(wire: str) -> Any:
    from harness.simulator import answers, wire_anthropic, wire_chat
    from harness.simulator.config import ModelScript
    from harness.simulator.requests import parse

    def respond(
        method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        req = parse(wire, json.loads(body), headers)
        answer = answers.build(req, ModelScript(), random.Random(0))
        ids = wire_chat.Ids(wire, 0)
        payload = (
            wire_anthropic.body(req, answer, ids)
            if wire == "anthropic"
            else wire_chat.body(req, answer, ids, None)
        )
        return 200, {"content-type": "application/json"}, json.dumps(payload).encode()

    return respond
