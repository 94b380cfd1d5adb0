"""Side by side with promptfoo: the same suite, simulator, machine and concurrency.

For each size N (5k at concurrency 50, 50k at 200 by default), against one simulator
process at LATENCY_MS, one target (``openai:gpt-4o-mini``, promptfoo through its
``openai:chat`` provider pointed at the simulator's OpenAI-compatible route), N cases
"Echo item i" with one ``contains`` assertion:
- llm-harness: cold and cached runs in the default configuration (report.html, summary.md,
  CSV and Parquet written), as bench_scale.py runs them;
- promptfoo: ``promptfoo eval -j C`` cold (fresh cache and database) and cached (the same
  again), in its default configuration (results written to its database), with
  PROMPTFOO_DISABLE_DEBUG_LOG=1 (promptfoo 0.121's debug log file otherwise crashes the
  process at exit with "write after end" after a cached eval);
- wall time, CPU seconds and peak RSS of each process tree, and the calls the simulator saw.

promptfoo is not a dependency: install it outside the repository and point at it.

    npm install --prefix /tmp/pf promptfoo@0.121
    .venv/bin/python bench/bench_promptfoo.py --promptfoo /tmp/pf/node_modules/.bin/promptfoo
        [--sizes 5000,50000] [--concurrency 50,200] [--latency-ms 100] [--cap-s 900]

A promptfoo run still going after --cap-s seconds is stopped and reported as such. Nothing is
asserted: figures are printed for docs/performance.md, with the load average.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_run import run_measured, sim_requests, simulator, write_project  # noqa: E402

PY = sys.executable


def promptfoo_project(work: Path, n: int, url: str) -> None:
    (work / "tests.csv").write_text("text\n" + "".join(f"item {i}\n" for i in range(n)))
    (work / "promptfooconfig.yaml").write_text(
        "description: bench\n"
        'prompts:\n  - "Echo {{text}}"\n'
        "providers:\n  - id: openai:chat:gpt-4o-mini\n    config:\n"
        f"      apiBaseUrl: {url}/openai/v1\n      apiKey: sk-bench\n      max_tokens: 32\n"
        "defaultTest:\n  assert:\n    - type: contains\n      value: item\n"
        "tests: file://tests.csv\n"
    )


def measured(cmd: list[str], cwd: Path, env: dict[str, str], url: str) -> dict[str, Any]:
    before = sim_requests(url)
    m = run_measured(cmd, cwd, env)
    return {"wall": m.wall, "rss": m.peak, "exit": m.code, "cpu": m.cpu,
            "calls": sim_requests(url) - before}


def one_size(
    n: int, c: int, url: str, root: Path, promptfoo: str, cap_s: float
) -> dict[str, Any]:
    work = root / f"n{n}"
    work.mkdir()
    write_project(work, n)
    promptfoo_project(work, n, url)
    env = dict(os.environ)
    env.update({
        "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": url + "/openai/v1",
        "LLM_HARNESS_CACHE_DIR": str(work / "cache"),
        "PROMPTFOO_CONFIG_DIR": str(work / "pf-home"),
        "PROMPTFOO_CACHE_PATH": str(work / "pf-cache"),
        "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_DEBUG_LOG": "1",
    })
    harness = [PY, "-m", "pytest", "evals", "-q", "-p", "no:cacheprovider",
               "--llm-concurrency", str(c), "--llm-out=run"]
    pf = ["timeout", str(int(cap_s)), promptfoo, "eval", "-c", "promptfooconfig.yaml",
          "-j", str(c), "--no-progress-bar", "--no-table"]
    out: dict[str, Any] = {"n": n, "c": c}
    out["harness_cold"] = measured(harness, work, env, url)
    out["harness_cached"] = measured(harness, work, env, url)
    out["pf_cold"] = measured(pf, work, env, url)
    out["pf_cached"] = measured(pf, work, env, url)
    out["load"] = os.getloadavg()
    return out


def line(name: str, m: dict[str, Any], ideal: float, cap_s: float) -> str:
    if m["exit"] == 124:
        return (f"  {name}: stopped after {cap_s:.0f} s (not finished); {m['calls']} calls by "
                f"then; peak rss {m['rss']:.0f} MB")
    ratio = f" = {m['wall'] / ideal:.2f}x ideal" if "cold" in name else ""
    return (f"  {name}: {m['wall']:.2f} s{ratio}; {m['cpu']:.1f} s CPU; peak rss "
            f"{m['rss']:.0f} MB; {m['calls']} calls; exit {m['exit']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--promptfoo", required=True, help="the promptfoo executable")
    parser.add_argument("--sizes", default="5000,50000")
    parser.add_argument("--concurrency", default="50,200", help="one per size")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--cap-s", type=float, default=900.0)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    conc = [int(x) for x in args.concurrency.split(",")]
    if len(conc) != len(sizes):
        parser.error("--concurrency needs one value per size")
    version = subprocess.run([args.promptfoo, "--version"], capture_output=True, text=True,
                             env={**os.environ, "PROMPTFOO_DISABLE_UPDATE": "1"})
    subprocess.run([PY, "-m", "compileall", "-q", str(BENCH.parent / "harness")], check=True)
    root = Path(tempfile.mkdtemp(prefix="llm-bench-promptfoo-"))
    print(f"command: {Path(PY).name} {' '.join(sys.argv)}")
    print(f"promptfoo {version.stdout.strip().splitlines()[-1]}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average at start {os.getloadavg()[0]:.2f}; work dir {root}")
    with simulator(args.latency_ms) as url:
        for n, c in zip(sizes, conc, strict=True):
            r = one_size(n, c, url, root, args.promptfoo, args.cap_s)
            ideal = n * args.latency_ms / 1000 / c
            print(f"\n== {n} cells, concurrency {c}, ideal {ideal:.1f} s (load average "
                  f"{r['load'][0]:.2f} / {r['load'][1]:.2f} at the end of this size)")
            print(line("llm-harness cold  ", r["harness_cold"], ideal, args.cap_s))
            print(line("llm-harness cached", r["harness_cached"], ideal, args.cap_s))
            print(line("promptfoo cold    ", r["pf_cold"], ideal, args.cap_s))
            print(line("promptfoo cached  ", r["pf_cached"], ideal, args.cap_s))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
