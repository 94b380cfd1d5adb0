"""Ctrl-C in the middle of a run: what finished is on disk, and a rerun resumes from the
cache instead of paying again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.simulator import Simulator

pytest.importorskip("openai")

CASES = 24
SUITE = (
    "name: slow\ntargets: [openai:gpt-4o-mini]\nmax_tokens: 20\nprompt:\n  user: 'Echo {{ n }}'\ncases:\n"
    + "".join(f"  - {{id: c{i:02d}, vars: {{n: item{i}}}}}\n" for i in range(CASES))
)


def lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("worker", ["off", "on"])
def test_ctrl_c_keeps_finished_cells_and_a_rerun_resumes(tmp_path: Path, worker: str) -> None:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "slow.yaml").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    with Simulator({"default": {"latency_ms": 250}}) as sim:
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-sim",
            "OPENAI_BASE_URL": sim.base_url("openai"),
            "LLM_HARNESS_CACHE_DIR": str(tmp_path / "cache"),
        }
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "evals",
            "-p",
            "no:cacheprovider",
            "-q",
            "--llm-report=false",
            "--llm-concurrency=2",
            f"--llm-worker={worker}",
        ]
        first = tmp_path / "run1" / "results.jsonl"
        proc = subprocess.Popen(
            [*cmd, "--llm-out=run1"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while len(lines(first)) < 4 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == pytest.ExitCode.INTERRUPTED, out.decode()[-2000:]
        finished = lines(first)
        assert 4 <= len(finished) < CASES  # every line whole, the run cut short
        assert all(r["status"] == "passed" and not r["cached"] for r in finished)
        sent_first = sim.request_count()

        rerun = subprocess.run(
            [*cmd, "--llm-out=run2"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rerun.returncode == 0, rerun.stdout[-2000:]
        second = lines(tmp_path / "run2" / "results.jsonl")
        assert len(second) == CASES
        replayed = {r["case_id"] for r in second if r["cached"]}
        # Everything that finished before Ctrl-C is replayed, not bought again.
        assert {r["case_id"] for r in finished} <= replayed
        assert sim.request_count() - sent_first == CASES - len(replayed)
