"""Benchmark of the gate's noise model: an identical rerun on a loaded machine must not fail.

Runs one suite (4 providers x 40 cases = 160 cells, under 200 so no worker process) live
against the simulator three times:

1. baseline: on the machine as it is, saved with --llm-save-baseline;
2. rerun: the identical suite and simulator while two busy-loop processes load both cores,
   judged with --llm-baseline --llm-gate=fail: expected no latency or cost regression;
3. shifted: the same on a simulator 300 ms slower (busy loops still running): expected a
   latency regression for every provider.

For each it prints, per provider, the latency and cost verdicts with their evidence (from
gate.json), and the old rule's figure (p95 after / p95 before against x1.25) for the same
data. Nothing is asserted: the figures are for the closing note.

    .venv/bin/python bench/bench_gate_noise.py [--cases 40] [--latency-ms 100] [--jitter-ms 30]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PY = sys.executable
TARGETS = (
    "openai:gpt-4o-mini",
    "anthropic:claude-haiku-4-5",
    "groq:llama-3.1-8b-instant",
    "mistral:mistral-small-latest",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(
    work: Path, latency_ms: float, jitter_ms: float
) -> tuple[subprocess.Popen[bytes], str]:
    config = work / f"sim-{latency_ms:g}.json"
    config.write_text(json.dumps({
        "seed": 7, "default": {"latency_ms": {"mean": latency_ms, "jitter": jitter_ms}},
    }))
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "harness.simulator", "--port", str(port), "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                break
        except OSError:
            time.sleep(0.1)
    return proc, url


def env_for(url: str, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": url + "/openai/v1",
        "ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": url + "/anthropic",
        "GROQ_API_KEY": "sk-bench", "GROQ_BASE_URL": url + "/groq",
        "MISTRAL_API_KEY": "sk-bench", "MISTRAL_BASE_URL": url + "/mistral",
        "LLM_HARNESS_CACHE_DIR": str(work / "cache"),
    })
    return env


def run(work: Path, env: dict[str, str], out: str, *extra: str) -> tuple[int, str]:
    cmd = [PY, "-m", "pytest", "evals", "-q", "-p", "no:cacheprovider", "--llm-cache=off",
           "--llm-report=false", f"--llm-out={out}", *extra]
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def p95(path: Path) -> dict[str, float]:
    from harness.results.stats import percentile

    lat: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r.get("latency_ms") is not None and r.get("status") != "error":
            lat.setdefault(r["target"], []).append(r["latency_ms"])
    return {t: percentile(v, 95) or 0.0 for t, v in lat.items()}


def report(title: str, work: Path, out: str, code: int, base_p95: dict[str, float]) -> None:
    gate = json.loads((work / out / "gate.json").read_text())
    now_p95 = p95(work / out / "results.jsonl")
    print(f"\n{title}: exit {code}, gate {'REGRESSION' if gate['has_regression'] else 'ok'} "
          f"({gate['regressions']} regression verdicts)")
    for g in gate["groups"]:
        metrics = {m["metric"]: m for m in g["metrics"]}
        lat, cost = metrics.get("latency", {}), metrics.get("cost_per_call", {})
        old = now_p95.get(g["target"], 0) / base_p95.get(g["target"], 1)
        print(f"  {g['target']}: old rule p95 x{old:.2f}"
              f"{' (would fail)' if old > 1.25 else ''}")
        if lat.get("change") is not None:
            lo, hi = lat.get("interval") or (float("nan"), float("nan"))
            print(f"    latency x{lat['change']:.3f} [{lo:.3f}, {hi:.3f}], "
                  f"p_holm {lat.get('p_adjusted')!s:.6}: {lat['verdict']}; {lat['reason']}")
        else:
            print(f"    latency: {lat.get('verdict')}: {lat.get('reason')}")
        print(f"    cost: {cost.get('verdict')}: {cost.get('reason')} ({cost.get('test')})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--jitter-ms", type=float, default=30.0)
    parser.add_argument("--shift-ms", type=float, default=300.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="llm-gate-noise-"))
    (work / "evals").mkdir()
    (work / "pytest.ini").write_text("[pytest]\n")
    cases = "\n".join(f'  - {{id: c{i}, vars: {{text: "item {i}"}}}}' for i in range(args.cases))
    targets = ", ".join(TARGETS)
    (work / "evals" / "bench.yaml").write_text(
        # No temperature: the simulated Anthropic API, like the real one, rejects it.
        f"name: bench\ntargets: [{targets}]\ntemperatures: [null]\nmax_tokens: 32\n"
        'prompt:\n  user: "Echo {{ text }}"\nassert:\n  - {type: contains, value: item}\n'
        f"cases:\n{cases}\n"
    )
    sim, url = start_simulator(work, args.latency_ms, args.jitter_ms)
    slow, slow_url = start_simulator(work, args.latency_ms + args.shift_ms, args.jitter_ms)
    busy: list[subprocess.Popen[bytes]] = []
    try:
        code, text = run(work, env_for(url, work), "base", "--llm-save-baseline=base.json")
        if code not in (0, 1):
            sys.stderr.write(text[-3000:])
            return 1
        base_p95 = p95(work / "base" / "results.jsonl")
        busy = [subprocess.Popen([PY, "-c", "while True: pass"]) for _ in range(2)]
        gate = ("--llm-baseline=base.json", "--llm-gate=fail")
        code, _ = run(work, env_for(url, work), "rerun", *gate)
        code_shift, _ = run(work, env_for(slow_url, work), "shifted", *gate)
    finally:
        for p in busy:
            p.terminate()
        for p in (*busy, sim, slow):
            if p not in busy:
                p.terminate()
            p.wait(timeout=10)

    print(f"command: {' '.join([Path(PY).name, *sys.argv])}")
    print(f"{len(TARGETS)} providers x {args.cases} cases, simulator "
          f"{args.latency_ms:g}±{args.jitter_ms:g} ms; rerun and shifted under 2 busy loops; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    report("identical rerun, both cores busy", work, "rerun", code, base_p95)
    report(f"+{args.shift_ms:g} ms, both cores busy", work, "shifted", code_shift, base_p95)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
