"""Scale curve: 1k, 5k and 50k cells through pytest in the default configuration.

For each size N, against the simulator (own process) at LATENCY_MS:
- floor: a bare pytest run of N no-op items (the least any N-item pytest run costs here);
- cold: N cells, every call live, report.html and exports written (the default);
- cached: the same N cells again, every answer replayed, report and exports written;
- cached, --llm-report=false: what the report and exports add to the end of the run;
- peak RSS of the process tree (pytest + worker) of each run;
- report.html size, its page files (``report-data/``: how many, the largest, in all);
- ``llm-harness report RUN`` in a fresh process: the time to write the report of N cells;
- first paint in headless Chromium (Performance API, bench_report.browse), opening a case.

    .venv/bin/python bench/bench_scale.py [--sizes 1000,5000,50000] [--latency-ms 100]
        [--concurrency 50,50,200]

Concurrency is given per size (50k runs at 200: ideal 25 s). Nothing is asserted: figures
are printed for docs/performance.md, with the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_report import browse  # noqa: E402
from bench_run import _breakdown, run_measured, sim_requests, simulator, write_project  # noqa: E402

PY = sys.executable


def files_of(run: Path) -> dict[str, float]:
    """MB of report.html and of its pages (count, largest, total)."""
    pages = sorted((run / "report-data").glob("cells-*.js"))
    sizes = [p.stat().st_size / 1e6 for p in pages]
    return {
        "html": (run / "report.html").stat().st_size / 1e6,
        "pages": len(pages),
        "largest_page": max(sizes, default=0.0),
        "pages_total": sum(sizes),
        "jsonl": (run / "results.jsonl").stat().st_size / 1e6,
    }


def report_cli(run: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of ``llm-harness report RUN`` in a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PY, "-m", "harness.cli", "report", str(run)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(err.decode(errors="replace")[-3000:])
    return wall, usage.ru_utime + usage.ru_stime


def one_size(n: int, concurrency: int, latency_ms: float, url: str, root: Path) -> dict[str, Any]:
    work = root / f"n{n}"
    work.mkdir()
    write_project(work, n)
    env = dict(os.environ)
    env.update({
        "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": url + "/openai/v1",
        "LLM_HARNESS_CACHE_DIR": str(work / "cache"),
    })
    common = ["-q", "-p", "no:cacheprovider", "--llm-concurrency", str(concurrency)]
    out: dict[str, Any] = {"n": n, "concurrency": concurrency}
    out["floor"] = run_measured(
        [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "noop"], work, env)
    before = sim_requests(url)
    out["cold"] = run_measured(
        [PY, "-m", "pytest", "evals", *common, "--llm-out=run-cold"], work, env)
    out["cold_calls"] = sim_requests(url) - before
    before = sim_requests(url)
    out["cached"] = run_measured(
        [PY, "-m", "pytest", "evals", *common, "--llm-out=run"], work, env)
    out["cached_calls"] = sim_requests(url) - before
    out["bare"] = run_measured(
        [PY, "-m", "pytest", "evals", *common, "--llm-report=false", "--llm-out=run-bare"],
        work, env)
    out["ideal"] = n * latency_ms / 1000 / concurrency
    out["files"] = files_of(work / "run")
    out["report_cli"] = report_cli(work / "run", env)
    out["browser"] = asyncio.run(browse(work / "run" / "report.html", work))
    out["load"] = os.getloadavg()
    return out


def show(r: dict[str, Any]) -> None:
    n, f, b = r["n"], r["files"], r["browser"]
    floor, cold, cached, bare = r["floor"], r["cold"], r["cached"], r["bare"]
    print(f"\n== {n} cells, concurrency {r['concurrency']}, ideal {r['ideal']:.1f} s "
          f"(load average {r['load'][0]:.2f} / {r['load'][1]:.2f} at the end of this size)")
    print(f"bare pytest, {n} no-op items: {floor.wall:.2f} s, {floor.cpu:.1f} s CPU, "
          f"rss {floor.peak:.0f} MB")
    print(f"cold (report on): {cold.wall:.2f} s = {cold.wall / r['ideal']:.2f}x ideal; "
          f"{cold.cpu:.1f} s CPU; {r['cold_calls']} calls; peak rss {cold.peak:.0f} MB "
          f"({_breakdown(cold)}); "
          f"exit {cold.code}")
    print(f"cached (report on): {cached.wall:.2f} s = {cached.wall / floor.wall:.2f}x floor; "
          f"{cached.cpu:.1f} s CPU = {cached.cpu / floor.cpu:.2f}x; {r['cached_calls']} calls; "
          f"peak rss {cached.peak:.0f} MB ({_breakdown(cached)}); exit {cached.code}")
    print(f"cached, --llm-report=false: {bare.wall:.2f} s, {bare.cpu:.1f} s CPU, peak rss "
          f"{bare.peak:.0f} MB ({_breakdown(bare)}; "
          f"report + exports add {cached.wall - bare.wall:.2f} s, "
          f"{cached.cpu - bare.cpu:.1f} s CPU)")
    wall, cpu = r["report_cli"]
    print(f"llm-harness report RUN (fresh process): {wall:.2f} s, {cpu:.1f} s CPU")
    print(f"report.html {f['html']:.2f} MB; report-data/: {f['pages']:.0f} pages, largest "
          f"{f['largest_page']:.2f} MB, {f['pages_total']:.1f} MB in all; results.jsonl "
          f"{f['jsonl']:.1f} MB")
    if not b:
        print("chromium: not found, browser figures skipped")
    else:
        print(f"chromium: first contentful paint {b['fcp']:.0f} ms, matrix ready "
              f"{b['ready']:.0f} ms, load {b['load']:.0f} ms; open a case {b['open_case']:.1f} "
              f"ms (with reading its page); console errors {len(b['console_errors'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,50000")
    parser.add_argument("--concurrency", default="50,50,200", help="one per size")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    conc = [int(x) for x in args.concurrency.split(",")]
    if len(conc) != len(sizes):
        parser.error("--concurrency needs one value per size")

    subprocess.run([PY, "-m", "compileall", "-q", str(BENCH.parent / "harness")], check=True)
    root = Path(tempfile.mkdtemp(prefix="llm-bench-scale-"))
    print(f"command: {Path(PY).name} {' '.join(sys.argv)}")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average at start {os.getloadavg()[0]:.2f}; work dir {root}")
    with simulator(args.latency_ms) as url:
        for n, c in zip(sizes, conc, strict=True):
            show(one_size(n, c, args.latency_ms, url, root))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
