"""Benchmark of the end of a run alone: what writing the report and the exports costs.

A synthetic run (bench_report.synthetic) is written to disk once; each variant then runs in
a fresh process that loads it (as the end of a run has it in memory) and measures only the
end-of-run step: CPU seconds (user + system, the process and its children) and memory
(RSS growth of that process; for the export child, its own peak).

- report: report.html and summary.md in the process (what pytest's process does now);
- export-child: results.csv and results.parquet by the child process (harness.run.export_child);
- all-in-process: everything in one process (``llm-harness report RUN``; on an older
  checkout, what the end of a run did: run it with PYTHONPATH=<that checkout>).

    .venv/bin/python bench/bench_finish.py [--cells 5000] [--targets 1] [--repeat 3]
        [--variants report,export-child,all-in-process]

Nothing is asserted: figures are printed for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("report", "export-child", "all-in-process")

#: Runs in the fresh process: argv = variant, run directory. Prints one JSON line.
MEASURE = r"""
import json, os, resource, sys
from pathlib import Path
variant, run = sys.argv[1], Path(sys.argv[2])
def rss():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
from harness.results.store import load_meta, load_results
from harness.results.stats import summarize
results, meta = load_results(run), load_meta(run)
groups = summarize(results)
usage = resource.getrusage
before, kids, start = rss(), usage(resource.RUSAGE_CHILDREN), usage(resource.RUSAGE_SELF)
from harness.report import write_reports
if variant == "report":
    write_reports(run, results, meta, groups, exports=False)
elif variant == "export-child":
    from harness.run import export_child
    # As the end of a run starts it; the child says its own peak (VmHWM since its exec:
    # ru_maxrss would count the pages it shared with this process before the exec).
    child = export_child.start_export(run)
    out, _ = child._proc.communicate()
    child_peak = json.loads(out)["peak_mb"]
else:
    write_reports(run, results, meta, groups)
end, kids_end = usage(resource.RUSAGE_SELF), usage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "cpu": end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime,
    "child_cpu": kids_end.ru_utime + kids_end.ru_stime - kids.ru_utime - kids.ru_stime,
    "growth": end.ru_maxrss / 1024 - before,
    "child_peak": child_peak if variant == "export-child" else 0.0,
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--targets", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_report import synthetic

    from harness.results.store import RunStore

    work = Path(tempfile.mkdtemp(prefix="llm-bench-finish-"))
    try:
        source = work / "source"
        store = RunStore(source)
        for result in synthetic(args.cells, args.targets):
            store.append(result)
        store.close()
        store.write_json("meta.json", {"run_id": "bench-finish"})
        print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        print(f"{args.cells} cells, {args.targets} targets; load average (1 min) "
              f"{os.getloadavg()[0]:.1f}")
        for variant in args.variants.split(","):
            rows = []
            for i in range(args.repeat):
                run = work / f"{variant}-{i}"
                shutil.copytree(source, run)
                done = subprocess.run([sys.executable, "-c", MEASURE, variant, str(run)],
                                      capture_output=True, text=True, check=True)
                rows.append(json.loads(done.stdout.splitlines()[-1]))
            cpu = [r["cpu"] + r["child_cpu"] for r in rows]
            growth = [r["growth"] for r in rows]
            line = (f"{variant:15} CPU {min(cpu):.2f}-{max(cpu):.2f} s; this process grew "
                    f"{min(growth):.0f}-{max(growth):.0f} MB")
            if variant == "export-child":
                peaks = [r["child_peak"] for r in rows]
                line += f"; the child's peak {min(peaks):.0f}-{max(peaks):.0f} MB"
            print(line)
        print(f"load average (1 min) at the end {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
