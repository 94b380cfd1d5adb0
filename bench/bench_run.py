"""Benchmark of the spine: 5000 cells through pytest against the simulator.

Measures, in one run:
- floor: a bare pytest run of N no-op items (the least any N-item pytest run costs here);
- cold: N cells, every call live against the simulator at LATENCY_MS, concurrency C;
  compared with the ideal N x latency / C;
- cached: the same N cells again, every answer replayed from the cache (simulator request
  count must not move);
- peak RSS of each run: the pytest process and its worker process together.

    .venv/bin/python bench/bench_run.py [--cells 5000] [--latency-ms 100] [--concurrency 50]

The simulator runs in its own process so its CPU does not count against the harness.
Nothing here is asserted: figures are printed for the closing note.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PY = sys.executable
CPU_SECONDS: list[float] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """pid and its descendants (the pytest process and its llm-harness worker)."""
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit status) of one pytest run. The RSS is the peak of the
    sum over the process and its children (the worker process counts), sampled every 50 ms.
    Its CPU seconds (user + system of the process and its children; steadier than wall time
    on a shared machine) go to CPU_SECONDS."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, sum(_rss_mb(p) for p in _tree(proc.pid)))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    reader.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(usage.ru_utime + usage.ru_stime - sum(CPU_SECONDS))
    code = proc.returncode
    if code not in (0, 1):
        sys.stderr.write(b"".join(chunks).decode(errors="replace")[-3000:])
    return wall, peak, code


def sim_requests(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=5) as resp:
        return int(json.load(resp).get("total", 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    n = args.cells

    # Bytecode as a wheel install has it (pip compiles on install; an editable checkout
    # under PYTHONDONTWRITEBYTECODE would otherwise recompile harness in every process).
    package = Path(__file__).resolve().parents[1] / "harness"
    subprocess.run([PY, "-m", "compileall", "-q", str(package)], check=True)
    work = Path(tempfile.mkdtemp(prefix="llm-bench-"))
    (work / "evals").mkdir()
    (work / "pytest.ini").write_text("[pytest]\n")
    cases = "\n".join(f'  - {{id: c{i}, vars: {{text: "item {i}"}}}}' for i in range(n))
    (work / "evals" / "bench.yaml").write_text(
        "name: bench\ntargets: [openai:gpt-4o-mini]\nmax_tokens: 32\n"
        'prompt:\n  user: "Echo {{ text }}"\nassert:\n  - {type: contains, value: item}\n'
        f"cases:\n{cases}\n"
    )
    (work / "noop").mkdir()
    (work / "noop" / "conftest.py").write_text(
        "import pytest\n\n"
        "class Noop(pytest.Item):\n    def runtest(self):\n        pass\n\n"
        "class NoopFile(pytest.File):\n"
        f"    def collect(self):\n        for i in range({n}):\n"
        "            yield Noop.from_parent(self, name=f'n{i}')\n\n"
        "def pytest_collect_file(file_path, parent):\n"
        "    if file_path.name == 'items.noop':\n"
        "        return NoopFile.from_parent(parent, path=file_path)\n"
    )
    (work / "noop" / "items.noop").write_text("")

    port = free_port()
    sim = subprocess.Popen(
        [PY, "-m", "harness.simulator", "--port", str(port), "--latency-ms",
         str(args.latency_ms)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                sim_requests(url)
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ)
        env.update({
            "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": url + "/openai/v1",
            "LLM_HARNESS_CACHE_DIR": str(work / "cache"),
        })
        common = ["-q", "-p", "no:cacheprovider", "--llm-concurrency", str(args.concurrency)]
        floor, floor_rss, _ = run_measured([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                            "noop"], work, env)
        before = sim_requests(url)
        cold, cold_rss, code = run_measured(
            [PY, "-m", "pytest", "evals", *common, "--llm-report=false"], work, env)
        cold_calls = sim_requests(url) - before
        before = sim_requests(url)
        cached, cached_rss, code2 = run_measured(
            [PY, "-m", "pytest", "evals", *common, "--llm-report=false"], work, env)
        cached_calls = sim_requests(url) - before
        with_report, report_rss, _ = run_measured(
            [PY, "-m", "pytest", "evals", *common], work, env)
    finally:
        sim.terminate()
        sim.wait(timeout=10)

    ideal = n * args.latency_ms / 1000 / args.concurrency
    print(f"command: {' '.join([Path(PY).name, *sys.argv])}")
    print(f"cells={n} latency={args.latency_ms:g}ms concurrency={args.concurrency}")
    print(f"bare pytest, {n} no-op items: {floor:.2f} s (rss {floor_rss:.0f} MB)")
    print(f"cold:   {cold:.2f} s = {cold / ideal:.2f}x ideal {ideal:.1f} s; {cold_calls} calls; "
          f"peak rss {cold_rss:.0f} MB (pytest + worker); exit {code}")
    print(f"cached: {cached:.2f} s = {cached / floor:.2f}x bare pytest; {cached_calls} calls; "
          f"peak rss {cached_rss:.0f} MB (pytest + worker); exit {code2}")
    print(f"cached + report.html and exports: {with_report:.2f} s; peak rss {report_rss:.0f} MB")
    floor_cpu, cold_cpu, cached_cpu, report_cpu = CPU_SECONDS
    print(f"CPU seconds (user+sys): bare {floor_cpu:.2f}, cold {cold_cpu:.2f}, "
          f"cached {cached_cpu:.2f} = {cached_cpu / floor_cpu:.2f}x bare, "
          f"cached + report {report_cpu:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
