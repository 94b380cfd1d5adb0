"""Production clients do not validate response bodies (no strict validation): a body that
is valid JSON but not a completion, or a stream of such chunks, must still end as a
retryable TransientError, not as an AttributeError deep in an adapter."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from cloudkit import CLOUD, KEY, key_env, request

from harness.errors import TransientError
from harness.providers import create_provider
from harness.providers.base import ProviderSettings

BASE_PATH = {
    "openai": "/v1",
    "openai-compatible": "/v1",
    "anthropic": "",
    "groq": "",
    "mistral": "",
}
#: model name -> the one stream chunk the server sends before [DONE]
CHUNKS = {
    "missing-fields": {"id": "x", "type": "surprise", "choices": [{"index": 0}]},
    "wrong-types": {"id": "x", "model": "m", "choices": [{"index": 0, "delta": 5}]},
}
ANTHROPIC_EVENTS = {
    "missing-fields": {"type": "message_delta"},
    "wrong-types": {"type": "content_block_start", "index": 0, "content_block": 5},
}


async def wrong_shape(req: web.Request) -> web.StreamResponse:
    body = await req.json()
    if not body.get("stream"):
        return web.json_response({"id": "x", "object": "surprise", "content": 3, "choices": None})
    resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(req)
    if req.path.endswith("/messages"):
        event = ANTHROPIC_EVENTS[body["model"]]
        # Anthropic's SDK reads only events whose name equals their type.
        frame = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
    else:
        frame = f"data: {json.dumps(CHUNKS[body['model']])}\n\n"
    await resp.write(frame.encode())
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def call_wrong_server(provider: str, model: str, stream: bool) -> Any:
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", wrong_shape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        base_url = f"http://127.0.0.1:{port}{BASE_PATH[provider]}"
        adapter = create_provider(ProviderSettings(provider, key_env(provider), base_url))
        try:
            return await adapter.complete(request(provider, model, stream=stream, timeout_s=5))
        finally:
            await adapter.aclose()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("provider", CLOUD)
def test_a_plain_body_of_the_wrong_shape_is_transient(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key_env(provider), KEY)
    with pytest.raises(TransientError, match="malformed"):
        asyncio.run(call_wrong_server(provider, "missing-fields", stream=False))


@pytest.mark.parametrize("model", sorted(CHUNKS))
@pytest.mark.parametrize("provider", CLOUD)
def test_a_stream_of_the_wrong_shape_is_transient(
    provider: str, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key_env(provider), KEY)
    with pytest.raises(TransientError):
        asyncio.run(call_wrong_server(provider, model, stream=True))
