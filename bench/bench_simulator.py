"""Benchmark of the provider simulator: requests/s and concurrent connections.

Measures, against a simulator in its own process (so the client's CPU is not the server's):
- plain: N non-streamed OpenAI chat calls at concurrency C, latency 0 (raw aiohttp client);
- stream: N streamed OpenAI calls (about 20 tokens each), same concurrency;
- anthropic: N non-streamed Anthropic calls;
- sdk: N calls through the official AsyncOpenAI client (what the harness adapters pay);
- connections: K simultaneous requests held for HOLD ms each; wall time against the ideal
  HOLD ms, and the simulator's own max_in_flight gauge from /stats;
- fidelity: sequential streamed calls with latency 100 ms and 200 tokens/s: measured time
  to first content chunk and to the end, against the configured values.

    .venv/bin/python bench/bench_simulator.py [--requests 3000] [--concurrency 50]
        [--connections 1000] [--hold-ms 1000]

Nothing is asserted; figures are printed with the command that produced them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

PY = sys.executable
PROMPT = "Write one short sentence about the sea, the sky and the wind, please, in plain words."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/stats", timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
        return data


def start_simulator(
    port: int, latency_ms: float, token_rate: float | None = None
) -> subprocess.Popen[bytes]:
    rate = ["--token-rate", str(token_rate)] if token_rate else []
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "harness.simulator",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            *rate,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            stats(url)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the simulator did not start")


async def drive(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Seconds to run ``one(i)`` for i < n with at most ``concurrency`` at a time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def raw_runs(url: str, n: int, concurrency: int) -> dict[str, float]:
    out: dict[str, float] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def openai_call(i: int, stream: bool = False) -> None:
            body: dict[str, Any] = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"{PROMPT} {i}"}],
                "stream": stream,
            }
            async with session.post(url + "/openai/v1/chat/completions", json=body) as r:
                assert r.status == 200, r.status
                await r.read()

        async def openai_stream(i: int) -> None:
            await openai_call(i, stream=True)

        async def anthropic_call(i: int) -> None:
            body = {
                "model": "claude-haiku-4-5",
                "max_tokens": 100,
                "messages": [{"role": "user", "content": f"{PROMPT} {i}"}],
            }
            async with session.post(url + "/anthropic/v1/messages", json=body) as r:
                assert r.status == 200, r.status
                await r.read()

        out["plain"] = await drive(n, concurrency, openai_call)
        out["stream"] = await drive(n, concurrency, openai_stream)
        out["anthropic"] = await drive(n, concurrency, anthropic_call)
    return out


async def sdk_run(url: str, n: int, concurrency: int) -> float:
    import openai

    async with openai.AsyncOpenAI(
        base_url=url + "/openai/v1", api_key="sk-bench", max_retries=0
    ) as client:

        async def one(i: int) -> None:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"{PROMPT} {i}"}]
            )

        return await drive(n, concurrency, one)


async def connections_run(url: str, k: int) -> tuple[float, int]:
    """(wall seconds, requests answered 200) for k simultaneous held requests."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> int:
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"c{i}"}]}
            async with session.post(url + "/openai/v1/chat/completions", json=body) as r:
                await r.read()
                return r.status

        start = time.perf_counter()
        statuses = await asyncio.gather(*(one(i) for i in range(k)))
        return time.perf_counter() - start, sum(1 for s in statuses if s == 200)


async def fidelity_run(url: str, calls: int) -> tuple[float, float, int]:
    """Median (ttft s, total s) and the completion token count of streamed calls."""
    ttfts, totals, n_tokens = [], [], 0
    async with aiohttp.ClientSession() as session:
        for i in range(calls):
            body = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"{PROMPT} {i}"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            start = time.perf_counter()
            first = None
            async with session.post(url + "/openai/v1/chat/completions", json=body) as r:
                async for line in r.content:
                    if not line.startswith(b"data: {"):
                        continue
                    chunk = json.loads(line[6:])
                    if (
                        first is None
                        and chunk["choices"]
                        and chunk["choices"][0]["delta"].get("content")
                    ):
                        first = time.perf_counter() - start
                    if chunk.get("usage"):
                        n_tokens = chunk["usage"]["completion_tokens"]
            totals.append(time.perf_counter() - start)
            ttfts.append(first or 0.0)
    return statistics.median(ttfts), statistics.median(totals), n_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--hold-ms", type=float, default=1000)
    args = parser.parse_args()
    n, c = args.requests, args.concurrency

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = start_simulator(port, 0)
    try:
        raw = asyncio.run(raw_runs(url, n, c))
        sdk = asyncio.run(sdk_run(url, n, c))
    finally:
        sim.terminate()
        sim.wait(10)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = start_simulator(port, args.hold_ms)
    try:
        wall, ok = asyncio.run(connections_run(url, args.connections))
        peak = stats(url)["max_in_flight"]
    finally:
        sim.terminate()
        sim.wait(10)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = start_simulator(port, 100, token_rate=200)
    try:
        ttft, total, n_tokens = asyncio.run(fidelity_run(url, 20))
    finally:
        sim.terminate()
        sim.wait(10)

    print(f"command: {Path(PY).name} {' '.join(sys.argv)}")
    print(f"requests={n} concurrency={c} latency=0 ms (simulator in its own process)")
    for name, seconds in raw.items():
        print(f"  {name:<10} {n / seconds:8.0f} req/s  ({seconds:.2f} s, raw aiohttp client)")
    print(f"  {'sdk':<10} {n / sdk:8.0f} req/s  ({sdk:.2f} s, openai.AsyncOpenAI client)")
    hold = args.hold_ms / 1000
    print(
        f"connections: {args.connections} simultaneous requests held {args.hold_ms:g} ms: "
        f"{ok} answered 200 in {wall:.2f} s ({wall / hold:.2f}x the hold), "
        f"server max_in_flight={peak}"
    )
    expected = 0.1 + (n_tokens - 1) / 200
    print(
        f"fidelity: latency 100 ms, 200 tokens/s, {n_tokens} tokens: median ttft "
        f"{ttft * 1000:.0f} ms (configured 100), median total {total * 1000:.0f} ms "
        f"(expected {expected * 1000:.0f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
