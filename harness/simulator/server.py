"""The aiohttp application: one handler per provider route, shared scripting and counters.

Routes (the prefixes let one server stand in for all four providers)::

    POST /openai/v1/chat/completions          OpenAI and OpenAI-compatible
    POST /groq/openai/v1/chat/completions     Groq
    POST /mistral/v1/chat/completions         Mistral
    POST /anthropic/v1/messages               Anthropic
    POST /anthropic/v1/messages/count_tokens  Anthropic token counting
    GET  /stats    POST /reset    GET /health
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from harness.simulator import answers, faults, tokens, wire_anthropic, wire_chat, wire_errors
from harness.simulator.config import STREAM_ONLY_FAULTS, SimConfig
from harness.simulator.faults import Fault
from harness.simulator.requests import InvalidRequest, ParsedRequest, parse
from harness.simulator.sse import Frame
from harness.simulator.stats import Counters

ROUTES = {
    "openai": "/openai/v1/chat/completions",
    "groq": "/groq/openai/v1/chat/completions",
    "mistral": "/mistral/v1/chat/completions",
    "anthropic": "/anthropic/v1/messages",
}
AZURE_ROUTE = "/azure/openai/deployments/{deployment}/chat/completions"
_MALFORMED = b'{"id": "sim-malformed", "choices": [{"index": 0, "message": {"role": "assis'


class State:
    """What the handlers share: the current config (swapped whole by ``configure``) and
    the counters."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.counters = Counters()
        #: while cleared, provider requests wait after arrival (``Simulator.hold``); made
        #: by the server loop, since an asyncio.Event belongs to one loop
        self.gate: asyncio.Event | None = None


def build_app(state: State) -> web.Application:
    app = web.Application(client_max_size=32 * 1024**2)
    for provider, path in ROUTES.items():
        app.router.add_post(path, _chat_handler(state, provider))
    # Azure OpenAI: chat completions under a deployment (counted as the openai route).
    app.router.add_post(AZURE_ROUTE, _chat_handler(state, "openai"))
    app.router.add_post("/anthropic/v1/messages/count_tokens", _count_handler(state))
    app.router.add_get("/stats", _stats_handler(state))
    app.router.add_post("/reset", _reset_handler(state))
    app.router.add_get("/health", _health)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _stats_handler(state: State) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(state.counters.snapshot())

    return handler


def _reset_handler(state: State) -> Any:
    async def handler(request: web.Request) -> web.Response:
        state.counters.reset()
        return web.json_response({"ok": True})

    return handler


def _error(
    provider: str, situation: str, request_id: str, message: str = "", status: int | None = None
) -> web.Response:
    body = wire_errors.error_body(provider, situation, request_id, message)
    headers = {wire_errors.request_id_header(provider): request_id}
    return web.json_response(
        body, status=status or wire_errors.status_for(provider, situation), headers=headers
    )


def _authorized(config: SimConfig, provider: str, request: web.Request) -> bool:
    if config.require_key is None:
        return True
    given = request.headers.get("authorization", "")
    if given.lower().startswith("bearer "):
        given = given[7:].strip()
    if provider == "anthropic" and not given:
        given = request.headers.get("x-api-key", "")
    if not given:  # Azure OpenAI sends its key as api-key
        given = request.headers.get("api-key", "")
    return given == config.require_key


def _count_handler(state: State) -> Any:
    async def handler(request: web.Request) -> web.Response:
        config = state.config
        rid = "req_simcount"
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        model = body.get("model") if isinstance(body, dict) else None
        state.counters.record("anthropic.count_tokens", model if isinstance(model, str) else "?")
        if not _authorized(config, "anthropic", request):
            return _error("anthropic", "auth", rid, "invalid x-api-key")
        try:
            if not isinstance(body, dict):
                raise InvalidRequest("the request body must be a JSON object")
            req = parse("anthropic", {"max_tokens": 1, **body}, request.headers)
        except InvalidRequest as exc:
            return _error("anthropic", "invalid_request", rid, str(exc))
        return web.json_response({"input_tokens": tokens.count(req.prompt_text)})

    return handler


def _chat_handler(state: State, provider: str) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        state.counters.enter()
        try:
            gate = state.gate
            if gate is not None and not gate.is_set():
                await gate.wait()
            return await _chat(state, provider, request, time.monotonic())
        finally:
            state.counters.leave()

    return handler


async def _chat(
    state: State, provider: str, request: web.Request, arrived: float
) -> web.StreamResponse:
    config = state.config  # one snapshot per request, even if configure() runs meanwhile
    raw = await request.read()
    digest = faults.body_digest(raw)
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    model = body.get("model") if isinstance(body, dict) else None
    model = model if isinstance(model, str) else "?"
    counters = state.counters
    counters.record(provider, model)
    occurrence = counters.occurrence(provider, model, digest)
    rng = faults.request_rng(config.seed, provider, model, digest, occurrence)
    u_fault, u_status, u_latency = rng.random(), rng.random(), rng.random()
    rid = f"req_sim{rng.getrandbits(96):024x}"

    def error(situation: str, message: str = "", status: int | None = None) -> web.Response:
        return _error(provider, situation, rid, message, status)

    def fail(situation: str, message: str = "") -> web.Response:
        response = error(situation, message)
        counters.status(response.status)
        return response

    if not _authorized(config, provider, request):
        return fail("auth")
    if body is None:
        return fail("invalid_request", "The request body is not valid JSON.")
    try:
        req = parse(provider, body, request.headers)
    except InvalidRequest as exc:
        return fail("invalid_request", str(exc))
    script = config.script_for(provider, model)
    fault = faults.forced(request.headers.get("x-sim-fault"), model)
    if fault is not None and fault.times is not None and occurrence >= fault.times:
        fault = None
    if fault is None and faults.forced(None, model) is None:
        if not config.model_known(provider, model):
            return fail("not_found", f"The model `{model}` does not exist.")
        fault = faults.draw(script, req.stream, u_fault)
    if fault is not None and fault.kind in STREAM_ONLY_FAULTS and not req.stream:
        fault = None  # nothing to cut in a plain response: answer normally
    if fault is not None:
        counters.fault(fault.kind)
    headers = {wire_errors.request_id_header(provider): rid}
    ready: web.Response | None = None
    latency_s = script.latency.draw(u_latency) / 1000

    def processing(answer: Any) -> dict[str, str]:
        # What the provider would report as its own time: the scripted wait, plus the
        # token time of a plain answer (a stream's headers leave before its tokens).
        tokens_s = answer.completion_tokens / script.token_rate if script.token_rate else 0.0
        return wire_chat.timing_headers(provider, latency_s + (0 if req.stream else tokens_s))

    if fault is None:
        # Built before the wait, as a provider's own work is part of its latency: the
        # scripted latency runs from the request's arrival to the response, however many
        # requests arrive at once (building 50 answers after the wait added ~7% to a
        # 100 ms latency at concurrency 50).
        answer = answers.build(req, script, rng)
        ids = wire_chat.Ids(provider, rng.getrandbits(96))
        headers.update(processing(answer))
        if not req.stream:
            if provider == "anthropic":
                payload = wire_anthropic.body(req, answer, ids)
            else:
                payload = wire_chat.body(req, answer, ids, script.token_rate, latency_s)
            ready = web.json_response(payload, headers=headers)
    await asyncio.sleep(max(0.0, latency_s - (time.monotonic() - arrived)))
    if fault is not None:
        response = await _apply_fault(fault, config, provider, req, rid, u_status, error)
        if response is not None:
            counters.status(response.status)
            return response
        answer = answers.build(req, script, rng)
        ids = wire_chat.Ids(provider, rng.getrandbits(96))
        headers.update(processing(answer))
    counters.status(200)
    if not req.stream:
        if script.token_rate:
            await asyncio.sleep(answer.completion_tokens / script.token_rate)
        if ready is None:
            if provider == "anthropic":
                payload = wire_anthropic.body(req, answer, ids)
            else:
                payload = wire_chat.body(req, answer, ids, script.token_rate, latency_s)
            ready = web.json_response(payload, headers=headers)
        return ready
    if provider == "anthropic":
        frames = wire_anthropic.stream(req, answer, ids)
    else:
        frames = wire_chat.stream(req, answer, ids, script.token_rate, latency_s)
    cut = fault.kind if fault is not None and fault.kind in STREAM_ONLY_FAULTS else None
    return await _send_stream(request, frames, headers, script.token_rate, cut, provider, config)


async def _apply_fault(
    fault: Fault,
    config: SimConfig,
    provider: str,
    req: ParsedRequest,
    rid: str,
    u_status: float,
    error: Any,
) -> web.StreamResponse | None:
    """The response a fault produces, or None when the request should then be answered
    normally (after a hang the client outlived; stream faults act while streaming)."""
    kind = fault.kind
    if kind == "rate_limit":
        response: web.Response = error("rate_limit")
        response.headers.update(wire_errors.rate_limit_headers(provider, config.retry_after_s))
        return response
    if kind == "server_error":
        status = fault.status or (500 if u_status < 0.5 else 503)
        return error("server_error" if status == 500 else "unavailable", status=status)
    if kind in ("overloaded", "auth", "not_found", "invalid_request"):
        return error(kind)
    if kind == "hang":
        await asyncio.sleep(config.hang_s)
        return None
    if kind == "malformed":
        if not req.stream:
            return web.Response(body=_MALFORMED, content_type="application/json")
        # Anthropic's SDK drops events without a name, so name this one to be parsed.
        event = b"event: message_start\n" if provider == "anthropic" else b""
        return web.Response(body=event + b"data: {not json\n\n", content_type="text/event-stream")
    return None


async def _send_stream(
    request: web.Request,
    frames: list[Frame],
    headers: dict[str, str],
    token_rate: float | None,
    fault: str | None,
    provider: str,
    config: SimConfig,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={**headers, "content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    await response.prepare(request)
    n_tokens = sum(1 for f in frames if f.phase == "token")
    cut_after = n_tokens // 2 if fault in ("truncated_stream", "midstream_error") else None
    start = time.monotonic()
    sent_tokens = 0
    for frame in frames:
        if frame.phase == "token":
            if cut_after is not None and sent_tokens >= cut_after:
                break
            if token_rate:
                # Pace against the start time so slow writes do not add up.
                delay = start + sent_tokens / token_rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_tokens += 1
        elif frame.phase == "tail" and cut_after is not None:
            break
        await response.write(frame.data)
    if fault == "midstream_error":
        kind = wire_errors.stream_error_kind(provider)
        message = "Internal error while streaming (simulated)."
        if provider == "anthropic":
            await response.write(wire_anthropic.error_frame(kind, message).data)
        else:
            await response.write(wire_chat.error_frame(kind, message).data)
    elif fault == "truncated_stream" and config.truncate_mode == "reset":
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response
