"""Ctrl-C (SIGINT) and CI cancellation (SIGTERM) on both front doors: the partial summary,
report and exports are written for the cells that finished, and no new call is sent after
the signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from robustkit import env_for, project, suite_text

from harness.simulator import Simulator

pytest.importorskip("openai")

CASES = 40
CONCURRENCY = 2


def lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.parametrize(
    ("door", "sig", "worker"),
    [
        ("pytest", signal.SIGINT, "off"),
        ("pytest", signal.SIGTERM, "on"),
        ("llm-harness run", signal.SIGINT, "on"),
        ("llm-harness run", signal.SIGTERM, "off"),
    ],
)
def test_a_signal_writes_the_partial_run_and_stops_calls(
    tmp_path: Path, door: str, sig: signal.Signals, worker: str
) -> None:
    project(tmp_path, {"slow.yaml": suite_text("slow", cases=CASES)})
    args = ["-p", "no:cacheprovider", "--llm-out=run", f"--llm-concurrency={CONCURRENCY}",
            f"--llm-worker={worker}"]
    with Simulator({"default": {"latency_ms": 300}}) as sim:
        env = env_for(tmp_path, sim.base_url("openai"))
        if door == "pytest":
            cmd = [sys.executable, "-m", "pytest", "evals", "-q", *args]
        else:
            cmd = [sys.executable, "-m", "harness.cli", "run", "evals", "--", *args]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        results = tmp_path / "run" / "results.jsonl"
        deadline = time.monotonic() + 120
        while len(lines(results)) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        at_signal = sim.request_count()
        os.kill(proc.pid, sig)  # one process, as `kill` or a CI runner sends it
        out, _ = proc.communicate(timeout=120)
        text = out.decode()
        after = sim.request_count() - at_signal
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text[-3000:]
    assert "Traceback" not in text
    finished = lines(results)
    assert 4 <= len(finished) < CASES
    run = tmp_path / "run"
    for name in ("summary.json", "meta.json", "report.html", "summary.md", "results.csv"):
        assert (run / name).exists(), (name, text[-2000:])
    # At most the calls already on their way when the signal came (one per slot).
    assert after <= CONCURRENCY, after


def test_sigterm_keeps_a_handler_someone_else_installed() -> None:
    code = (
        "import signal\n"
        "from harness.run.signals import sigterm_as_interrupt\n"
        "mine = lambda *a: None\n"
        "signal.signal(signal.SIGTERM, mine)\n"
        "sigterm_as_interrupt()\n"
        "assert signal.getsignal(signal.SIGTERM) is mine\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
