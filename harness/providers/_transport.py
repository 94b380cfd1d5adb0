"""An httpx / httpx2 transport that sends the SDKs' requests through aiohttp.

Why: on a large concurrent run the SDKs' default transport (httpcore) costs more CPU per call
than anything else in the harness process: its connection pool rescans every connection on
each request and its HTTP/1.1 parser is pure Python. All four SDKs accept a caller's httpx
client, and a transport is httpx's own extension point, so the official SDKs still build
every request, parse every response and stream, and raise their own errors; only the bytes
travel through aiohttp's C-accelerated client. Failures are raised as the httpx exceptions the
SDKs expect (ConnectError, ReadTimeout, RemoteProtocolError, ...), so error handling is
unchanged. A target can opt out with ``options: {transport: httpx}``.

One transport belongs to one provider instance and to the event loop that first uses it (the
runner's lane of that provider); its aiohttp session is created there, lazily.

A transport can be told to ``rehearse``: answer every request with a given function instead
of sending it (harness.providers.rehearsal, before any call of the run is timed). The runner
finds the transports a provider's construction made with ``built_transports()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import aiohttp

#: Connections per provider instance; the runner's per-provider semaphore is the real limit.
DEFAULT_LIMIT = 512

#: (method, url, body, headers) -> (status, headers, body): a rehearsal's answer.
Responder = Callable[[str, str, bytes, Mapping[str, str]], tuple[int, dict[str, str], bytes]]

_BUILT: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "llm_harness_built_transports", default=None
)


@contextlib.contextmanager
def built_transports() -> Iterator[list[Any]]:
    """Collects the transports made inside the block (a provider's construction), so the
    caller can make them rehearse before the provider is used."""
    made: list[Any] = []
    token = _BUILT.set(made)
    try:
        yield made
    finally:
        _BUILT.reset(token)


def use_aiohttp(options: Mapping[str, Any]) -> bool:
    """Whether a target's options leave the aiohttp transport on (the default)."""
    return str(options.get("transport", "aiohttp")).lower() != "httpx"


def sdk_http_client(options: Mapping[str, Any], httpx_name: str) -> Any:
    """The async client to hand an SDK: ``httpx_name`` ("httpx" or "httpx2", whichever the
    SDK is built on) over aiohttp, or None (the SDK builds its default) when the target's
    options ask for plain httpx."""
    if not use_aiohttp(options):
        return None
    return async_client(importlib.import_module(httpx_name))


def async_client(httpx_mod: ModuleType, *, limit: int = DEFAULT_LIMIT, **kwargs: Any) -> Any:
    """An ``httpx_mod.AsyncClient`` (httpx or httpx2) whose transport is aiohttp."""
    kwargs.setdefault("follow_redirects", True)
    return httpx_mod.AsyncClient(transport=make_transport(httpx_mod, limit), **kwargs)


def make_transport(httpx_mod: ModuleType, limit: int = DEFAULT_LIMIT) -> Any:
    """Build the transport class for ``httpx_mod`` and return an instance of it."""
    errors = _Errors(httpx_mod)

    class AiohttpStream(httpx_mod.AsyncByteStream):  # type: ignore[name-defined]
        def __init__(self, response: aiohttp.ClientResponse, request: Any) -> None:
            self._response = response
            self._request = request

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._response.content.iter_any():
                    yield chunk
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise errors.translate(exc, self._request, reading=True) from exc

        async def aclose(self) -> None:
            self._response.release()

    class AiohttpTransport(httpx_mod.AsyncBaseTransport):  # type: ignore[name-defined]
        def __init__(self) -> None:
            self._session: aiohttp.ClientSession | None = None
            #: While set, requests are answered by it and nothing is sent.
            self.rehearse: Responder | None = None

        def _client(self) -> aiohttp.ClientSession:
            if self._session is None or self._session.closed:
                connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit)
                # Bodies are handed to httpx undecoded: it decodes per Content-Encoding.
                self._session = aiohttp.ClientSession(
                    connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
                )
            return self._session

        async def handle_async_request(self, request: Any) -> Any:
            timeouts = request.extensions.get("timeout", {})
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=timeouts.get("connect"),
                sock_read=timeouts.get("read"),
            )
            body = await request.aread()
            if self.rehearse is not None:
                status, answer_headers, content = self.rehearse(
                    request.method, str(request.url), body, request.headers
                )
                return httpx_mod.Response(status, headers=answer_headers, content=content)
            headers = [
                (k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"
            ]
            try:
                response = await self._client().request(
                    request.method,
                    str(request.url),
                    headers=headers,
                    data=body or None,
                    timeout=timeout,
                    allow_redirects=False,
                    # httpx already set every header it wants; add none of aiohttp's.
                    skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise errors.translate(exc, request, reading=False) from exc
            return httpx_mod.Response(
                status_code=response.status,
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
                ],
                stream=AiohttpStream(response, request),
                extensions={
                    "http_version": b"HTTP/1.1",
                    "reason_phrase": (response.reason or "").encode("latin-1"),
                },
            )

        async def aclose(self) -> None:
            if self._session is not None and not self._session.closed:
                await self._session.close()

    transport = AiohttpTransport()
    built = _BUILT.get()
    if built is not None:
        built.append(transport)
    return transport


class _Errors:
    """aiohttp failures as the httpx exceptions the SDKs catch and classify."""

    def __init__(self, httpx_mod: ModuleType) -> None:
        self.httpx = httpx_mod

    def translate(self, exc: BaseException, request: Any, *, reading: bool) -> Exception:
        h = self.httpx
        message = str(exc) or type(exc).__name__
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return h.ConnectTimeout(message, request=request)
        if isinstance(exc, asyncio.TimeoutError):
            return h.ReadTimeout(message, request=request)
        if isinstance(exc, aiohttp.ClientConnectorError):
            return h.ConnectError(message, request=request)
        if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            return h.RemoteProtocolError(message, request=request)
        if isinstance(exc, aiohttp.ClientResponseError):
            # A response the parser rejected: the server broke the protocol.
            return h.RemoteProtocolError(message, request=request)
        if isinstance(exc, aiohttp.ClientOSError):
            cls = h.ReadError if reading else h.ConnectError
            return cls(message, request=request)
        return h.TransportError(message, request=request)
