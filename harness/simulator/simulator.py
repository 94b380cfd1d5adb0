"""``Simulator``: the server running on 127.0.0.1 in a background thread with its own event
loop, usable as a context manager from sync code and tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError
from harness.simulator.config import SimConfig
from harness.simulator.server import State, build_app

#: Path prefix each provider's SDK base URL needs.
BASE_PATHS = {
    "openai": "/openai/v1",
    "openai-compatible": "/openai/v1",
    "anthropic": "/anthropic",
    "groq": "/groq",
    "mistral": "/mistral",
    "azure": "/azure",
}
#: Pending connections the listening socket queues; the default (128) drops bursts.
BACKLOG = 4096
#: Seconds stop() lets in-flight requests (e.g. a "hang") finish before cancelling them.
SHUTDOWN_TIMEOUT_S = 0.5


class Simulator:
    def __init__(self, config: SimConfig | Mapping[str, Any] | None = None, port: int = 0) -> None:
        self._state = State(SimConfig.coerce(config))
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Simulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name="llm-simulator", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise ConfigError(
                f"simulator: cannot listen on 127.0.0.1:{self._requested_port}: {failure[0]}"
            ) from failure[0]
        return self

    def stop(self) -> None:
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None or loop is None or stopped is None:
            return
        loop.call_soon_threadsafe(stopped.set)
        thread.join()
        self._thread = self._loop = self._stopped = None
        self._port = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready, failure))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self, ready: threading.Event, failure: list[BaseException]) -> None:
        from aiohttp import web

        self._stopped = asyncio.Event()
        self._state.gate = asyncio.Event()
        self._state.gate.set()
        runner = web.AppRunner(
            build_app(self._state),
            access_log=None,  # no request logging: nothing that could carry a key
            handler_cancellation=True,  # a client that gives up (timeout) ends its handler
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        try:
            await runner.setup()
            site = web.TCPSite(
                runner, "127.0.0.1", self._requested_port, backlog=BACKLOG, reuse_address=True
            )
            await site.start()
            self._port = int(runner.addresses[0][1])
        except BaseException as exc:  # report any startup failure to the caller's thread
            failure.append(exc)
            await runner.cleanup()
            ready.set()
            return
        ready.set()
        try:
            await self._stopped.wait()
        finally:
            await runner.cleanup()

    def hold(self) -> None:
        """Make provider requests wait on arrival until ``release()``: lets a test pile up a
        known number of concurrent connections (see ``stats()["in_flight"]``)."""
        self._set_gate(False)

    def release(self) -> None:
        """Let held requests (and later ones) through."""
        self._set_gate(True)

    def _set_gate(self, open_: bool) -> None:
        loop, gate = self._loop, self._state.gate
        if loop is None or gate is None:
            raise RuntimeError("the simulator is not running; call start() or use `with`")

        async def flip() -> None:
            if open_:
                gate.set()
            else:
                gate.clear()

        asyncio.run_coroutine_threadsafe(flip(), loop).result()

    # -- addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not running; call start() or use `with`")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, provider: str) -> str:
        """The base URL to give the provider's SDK (or the harness target's base_url)."""
        try:
            return self.url + BASE_PATHS[provider]
        except KeyError:
            raise ConfigError(
                f"simulator: unknown provider {provider!r}; known: {sorted(BASE_PATHS)}"
            ) from None

    # -- scripting and counters ------------------------------------------------------------
    @property
    def config(self) -> SimConfig:
        return self._state.config

    def configure(self, config: SimConfig | Mapping[str, Any] | None) -> None:
        """Replace the scripting; requests already in flight finish under the old one."""
        self._state.config = SimConfig.coerce(config)

    def stats(self) -> dict[str, Any]:
        """Same as GET /stats: total, by_route, by_model, by_route_model (route -> model ->
        count), by_fault, by_status."""
        return self._state.counters.snapshot()

    def reset(self) -> None:
        """Zero the counters (and the per-request retry memory of ``fault-...xN``)."""
        self._state.counters.reset()

    def request_count(self, route: str | None = None, model: str | None = None) -> int:
        """Requests received, optionally for one route ("openai", "anthropic", "groq",
        "mistral", "anthropic.count_tokens") and/or one model."""
        return self._state.counters.count(route, model)
