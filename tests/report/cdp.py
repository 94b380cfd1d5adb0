"""A tiny Chrome DevTools Protocol client: start headless Chromium, open one page, send
commands and collect events over a websocket (aiohttp). Used by the browser test and by
bench/bench_report.py.

    async with Browser.launch(binary, profile_dir) as browser:
        page = await browser.new_page()
        await page.navigate("file:///.../report.html")
        title = await page.evaluate("document.title")

Chromium is started on ``--remote-debugging-port=0``; the port it picked is read from the
DevToolsActivePort file in the profile. Leaving the ``async with`` closes the websocket and
the HTTP session and ends the Chromium process (terminate, then kill).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
)


class CDPError(RuntimeError):
    pass


class Browser:
    def __init__(self, proc: subprocess.Popen[bytes], ws_url: str) -> None:
        self.proc = proc
        self.ws_url = ws_url
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        #: Every event received, in order: {"method", "params", "sessionId"?}.
        self.events: list[dict[str, Any]] = []
        self._event_waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = []

    @classmethod
    def launch(
        cls, binary: str, profile_dir: Path, *, window: tuple[int, int] = (1400, 1000)
    ) -> _Launch:
        return _Launch(binary, Path(profile_dir), window)

    async def _connect(self) -> None:
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(self.ws_url, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(CDPError(json.dumps(data["error"])))
                    else:
                        fut.set_result(data.get("result", {}))
                continue
            self.events.append(data)
            for pred, waiter in list(self._event_waiters):
                if not waiter.done() and pred(data):
                    waiter.set_result(data)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(CDPError("the browser closed the connection"))

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        assert self._ws is not None
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = fut
        await self._ws.send_str(json.dumps(msg))
        return await asyncio.wait_for(fut, timeout)

    def wait_for_event(
        self, method: str, session_id: str | None = None
    ) -> asyncio.Future[dict[str, Any]]:
        """A future for the next event named ``method`` (register before triggering it)."""

        def pred(ev: dict[str, Any]) -> bool:
            return ev.get("method") == method and (
                session_id is None or ev.get("sessionId") == session_id
            )

        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._event_waiters.append((pred, fut))
        return fut

    async def new_page(self) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        for domain in ("Runtime", "Log", "Page", "Network", "Performance"):
            await page.send(f"{domain}.enable")
        return page

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._ws is not None and not self._ws.closed:
                await self.send("Browser.close", timeout=5)
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        for _, waiter in self._event_waiters:
            waiter.cancel()
        if self._http is not None:
            await self._http.close()


class Page:
    """One tab, addressed through its flattened session id."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, session_id=self.session_id)

    def events(self, *methods: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.browser.events
            if e.get("sessionId") == self.session_id and e.get("method") in methods
        ]

    async def navigate(self, url: str, timeout: float = 30.0) -> None:
        loaded = self.browser.wait_for_event("Page.loadEventFired", self.session_id)
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        await asyncio.wait_for(loaded, timeout)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression!r} threw: {json.dumps(result['exceptionDetails'])}")
        return result.get("result", {}).get("value")

    async def wait_until(self, expression: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for {expression!r}")
            await asyncio.sleep(0.05)

    async def click(self, selector: str) -> None:
        """A real mouse click at the centre of the first element matching ``selector``."""
        box = await self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center"}});
                const r = el.getBoundingClientRect();
                return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
            }})()"""
        )
        if box is None:
            raise CDPError(f"no element matches {selector!r}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = await self.send("Page.captureScreenshot", params)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries (CSP violations too)."""
        out = []
        for e in self.events(
            "Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"
        ):
            p = e["params"]
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(str(d.get("exception", {}).get("description") or d.get("text")))
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"{p['entry'].get('source')}: {p['entry'].get('text')}")
        return out

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events("Network.requestWillBeSent")]


class _Launch:
    """``async with Browser.launch(...)``: start Chromium, connect, and always clean up."""

    def __init__(self, binary: str, profile_dir: Path, window: tuple[int, int]) -> None:
        self.binary = binary
        self.profile_dir = profile_dir
        self.window = window
        self.proc: subprocess.Popen[bytes] | None = None
        self.browser: Browser | None = None

    async def __aenter__(self) -> Browser:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.profile_dir / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)
        cmd = [
            self.binary,
            *FLAGS,
            f"--user-data-dir={self.profile_dir}",
            f"--window-size={self.window[0]},{self.window[1]}",
            "about:blank",
        ]
        # Its own process group, so a stuck browser can be ended with all its helpers.
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                lines = port_file.read_text().split() if port_file.exists() else []
                if len(lines) >= 2:
                    break
                if self.proc.poll() is not None:
                    raise CDPError(f"chromium exited with status {self.proc.returncode}")
                if time.monotonic() > deadline:
                    raise CDPError("chromium did not write DevToolsActivePort within 30 s")
                await asyncio.sleep(0.05)
            self.browser = Browser(self.proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}")
            await self.browser._connect()
        except BaseException:
            await self._shutdown()
            raise
        return self.browser

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self.browser is not None:
            await self.browser.close()
        if self.proc is not None:
            try:
                await asyncio.to_thread(self.proc.wait, 5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    await asyncio.to_thread(self.proc.wait, 5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    await asyncio.to_thread(self.proc.wait)
            # Renderer and zygote helpers share the group; end any left behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
