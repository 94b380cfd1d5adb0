"""The simulator as a server: 500 concurrent connections, /stats over HTTP, runtime
reconfiguration, the CLI, and the plugin's llm_simulator fixture."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from harness.simulator import Simulator
from harness.simulator.cli import main

USER = [{"role": "user", "content": "ping"}]


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    """Poll until ``predicate()`` holds (a wait bound, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_holds_500_concurrent_connections() -> None:
    n = 500
    with Simulator({"default": {"latency_ms": 5}}) as s:
        s.hold()

        async def fire() -> list[tuple[int, Any]]:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:

                async def one(i: int) -> tuple[int, Any]:
                    body = {
                        "model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": f"n{i}"}],
                    }
                    async with session.post(
                        s.base_url("openai") + "/chat/completions", json=body
                    ) as r:
                        return r.status, await r.json()

                tasks = [asyncio.create_task(one(i)) for i in range(n)]
                # every request is in the server at once before any is answered
                while s.stats()["in_flight"] < n:
                    await asyncio.sleep(0.02)
                s.release()
                return await asyncio.gather(*tasks)

        results = asyncio.run(asyncio.wait_for(fire(), 120))
        assert [status for status, _ in results] == [200] * n
        assert sorted(body["choices"][0]["message"]["content"] for _, body in results) == sorted(
            f"n{i}" for i in range(n)
        )
        stats = s.stats()
        assert stats["max_in_flight"] == n
        assert stats["total"] == n
        assert stats["in_flight"] == 0


def test_stats_and_reset_over_http() -> None:
    async def go(s: Simulator) -> tuple[dict[str, Any], dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            body = {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER}
            async with session.post(s.base_url("anthropic") + "/v1/messages", json=body) as r:
                assert r.status == 200
            async with session.get(s.url + "/stats") as r:
                before = await r.json()
            async with session.post(s.url + "/reset") as r:
                assert r.status == 200
            async with session.get(s.url + "/stats") as r:
                after = await r.json()
        return before, after

    with Simulator() as s:
        before, after = asyncio.run(go(s))
    assert before["total"] == 1
    assert before["by_route"] == {"anthropic": 1}
    assert before["by_model"] == {"claude-haiku-4-5": 1}
    assert before["by_route_model"] == {"anthropic": {"claude-haiku-4-5": 1}}
    assert before["by_status"] == {"200": 1}
    assert after["total"] == 0


def test_anthropic_count_tokens(clients: dict[str, Any], sim: Simulator) -> None:
    r = clients["anthropic"].messages.count_tokens(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "one two, three"}]
    )
    assert r.input_tokens == 4
    assert sim.request_count("anthropic.count_tokens", "claude-haiku-4-5") >= 1


def test_configure_replaces_the_script_at_runtime(fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim()
    oc = clients_for(s)["openai"]

    def ask() -> str | None:
        r = oc.chat.completions.create(model="gpt-4o-mini", messages=USER)
        return r.choices[0].message.content

    assert ask() == "ping"
    s.configure({"default": {"canned_default": "pong"}})
    assert ask() == "pong"
    s.configure(None)
    assert ask() == "ping"


def test_bad_request_bodies_get_provider_shaped_400(clients: dict[str, Any]) -> None:
    with pytest.raises(openai.BadRequestError):
        clients["openai"].chat.completions.create(model="gpt-4o-mini", messages=[])


def test_stop_returns_promptly_with_a_hung_request() -> None:
    s = Simulator({"hang_s": 600}).start()
    with openai.OpenAI(base_url=s.base_url("openai"), api_key="k", max_retries=0, timeout=60) as oc:
        raised: list[type[BaseException]] = []

        def call() -> None:
            try:
                oc.chat.completions.create(model="fault-hang", messages=USER)
            except openai.APIError as exc:
                raised.append(type(exc))

        worker = threading.Thread(target=call)
        worker.start()
        wait_for(lambda: s.stats()["in_flight"] == 1, "the hung request")
        s.stop()  # must cancel the hung handler instead of waiting 600 s
        worker.join(30)
        assert not worker.is_alive()
        assert raised and issubclass(raised[0], openai.APIConnectionError)


def test_cli_main_serves_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    codes: list[int] = []
    t = threading.Thread(
        target=lambda: codes.append(main(["--port", "0", "--latency-ms", "1"], stop=stop))
    )
    t.start()
    wait_for(lambda: "mistral" in capsys.readouterr().out or codes, "the CLI banner", 30)
    stop.set()
    t.join(30)
    assert codes == [0]


def test_cli_rejects_a_bad_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "sim.yaml"
    bad.write_text("default:\n  latency_ms: fast\n")
    assert main(["--port", "0", "--config", str(bad)]) == 2
    assert "latency_ms" in capsys.readouterr().err


def test_python_dash_m_runs_until_ctrl_c(tmp_path: Path) -> None:
    config = tmp_path / "sim.json"
    config.write_text(json.dumps({"default": {"canned_default": "from file"}}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.simulator",
            "--port",
            "0",
            "--latency-ms",
            "1",
            "--seed",
            "5",
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        openai_url = next(line.split()[-1] for line in lines if line.strip().startswith("openai "))
        with openai.OpenAI(base_url=openai_url, api_key="k", max_retries=0) as oc:
            r = oc.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert r.choices[0].message.content == "from file"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_plugin_llm_simulator_fixture(llm_simulator: Simulator) -> None:
    assert isinstance(llm_simulator, Simulator)
    with openai.OpenAI(base_url=llm_simulator.base_url("openai"), api_key="k", max_retries=0) as oc:
        assert (
            oc.chat.completions.create(model="m", messages=USER).choices[0].message.content
            == "ping"
        )
    assert llm_simulator.request_count("openai", "m") == 1
