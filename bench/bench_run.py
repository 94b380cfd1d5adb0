"""Benchmark of a default run: 5000 cells through pytest against the simulator, as a user
gets it (report.html, summary.md, results.csv and results.parquet written at the end).

Measures, in one script and against one simulator:
- floor: a bare pytest run of N no-op items (the least any N-item pytest run costs here);
- cold: N cells in the default configuration, every call live at LATENCY_MS, concurrency C;
  compared with the ideal N x latency / C;
- cached: the same N cells again in the default configuration, every answer replayed from
  the cache (the simulator's request count must not move); compared with the floor;
- cached, --llm-report=false: the same without the end-of-run files, for comparison;
- bare SDK: the same N calls by the official OpenAI SDK's async client alone (no pytest, no
  harness) at the same concurrency, against the same simulator: what the calls cost any
  Python client on this machine, beside the ideal N x latency / C;
- for each run, the peak RSS of the whole process tree (pytest, its worker process and any
  other child, such as the one writing the exports), summed over the processes alive at
  the same moment, and the CPU seconds of the tree (steadier than wall time on a shared
  machine).

    .venv/bin/python bench/bench_run.py [--cells 5000] [--latency-ms 100] [--concurrency 50]
                                        [--repeat 1]

The simulator runs in its own process so its CPU does not count against the harness.
Nothing here is asserted: figures are printed, ending with a table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable
#: How often the process tree's RSS is sampled. Short: the child that writes the exports
#: lives a fraction of a second, and a sample must land inside it.
SAMPLE_S = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """pid and all its descendants. Every thread's children list is read: a child started
    from a thread other than the main one (the worker, a report child) is listed under that
    thread's task only."""
    found = [pid]
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
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


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _role(pid: int, root: int) -> str:
    """What a process of the tree is, for the breakdown of the peak. "forked": a child
    between fork and exec (git's, for meta.json), whose pages are still its parent's
    (copy-on-write): counting its RSS would count pytest's memory twice."""
    if pid == root:
        return "pytest"
    cmd = _cmdline(pid)
    if not cmd:
        return "gone"
    if cmd == _cmdline(root):
        return "forked"
    if "worker.child" in cmd:
        return "worker"
    if "harness.report.exports" in cmd:
        return "exports"
    return "other"


@dataclass
class Measured:
    wall: float
    cpu: float
    #: Peak of the summed RSS of the processes alive at one sample, MB.
    peak: float
    #: RSS per role at that peak sample.
    at_peak: dict[str, float] = field(default_factory=dict)
    code: int = 0
    roles: set[str] = field(default_factory=set)


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> Measured:
    """Wall and CPU seconds and peak tree RSS of one pytest run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    peak, at_peak, roles = 0.0, {}, set()
    while proc.poll() is None:
        sample: dict[str, float] = {}
        for pid in _tree(proc.pid):
            role = _role(pid, proc.pid)
            if role != "forked":
                sample[role] = sample.get(role, 0.0) + _rss_mb(pid)
        roles.update(sample)
        total = sum(sample.values())
        if total > peak:
            peak, at_peak = total, sample
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - start
    reader.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    code = proc.returncode
    if code not in (0, 1):
        sys.stderr.write(b"".join(chunks).decode(errors="replace")[-3000:])
    return Measured(wall, cpu, peak, at_peak, code, roles)


#: The bare-SDK row: N chat completions through AsyncOpenAI, C at a time, as the cells ask.
BARE_SDK = """
import asyncio, sys
import openai

async def main(url, n, c):
    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=url, max_retries=0)
    gate = asyncio.Semaphore(c)

    async def one(i):
        async with gate:
            await client.chat.completions.create(
                model="gpt-4o-mini", max_tokens=32, timeout=60,
                messages=[{"role": "user", "content": f"Echo item {i}"}],
            )

    await asyncio.gather(*(one(i) for i in range(n)))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def sim_requests(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=5) as resp:
        return int(json.load(resp).get("total", 0))


def write_project(work: Path, n: int) -> None:
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


def _range(values: list[float], fmt: str = "{:.2f}") -> str:
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else f"{lo}-{hi}"


def _breakdown(m: Measured) -> str:
    return ", ".join(f"{role} {mb:.0f}" for role, mb in sorted(m.at_peak.items()) if mb)


@contextlib.contextmanager
def simulator(latency_ms: float) -> Iterator[str]:
    """The simulator in its own process (its CPU is not the harness's): yields its URL."""
    port = free_port()
    sim = subprocess.Popen(
        [PY, "-m", "harness.simulator", "--port", str(port), "--latency-ms", str(latency_ms)],
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
        yield url
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure every row this many times (a fresh cache each time)")
    args = parser.parse_args()
    n = args.cells

    # Bytecode as a wheel install has it (pip compiles on install; an editable checkout
    # under PYTHONDONTWRITEBYTECODE would otherwise recompile harness in every process).
    package = Path(__file__).resolve().parents[1] / "harness"
    subprocess.run([PY, "-m", "compileall", "-q", str(package)], check=True)
    work = Path(tempfile.mkdtemp(prefix="llm-bench-"))
    write_project(work, n)

    rows: dict[str, list[Measured]] = {
        "floor": [], "bare-sdk": [], "cold": [], "cached": [], "no-report": []
    }
    calls: dict[str, list[int]] = {"cold": [], "cached": []}
    loads: list[float] = []
    try:
        with simulator(args.latency_ms) as url:
            common = ["-q", "-p", "no:cacheprovider", "--llm-concurrency", str(args.concurrency)]
            for i in range(args.repeat):
                loads.append(os.getloadavg()[0])
                env = dict(os.environ)
                env.update({
                    "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": url + "/openai/v1",
                    "LLM_HARNESS_CACHE_DIR": str(work / f"cache-{i}"),
                })
                rows["floor"].append(run_measured(
                    [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "noop"], work, env))
                rows["bare-sdk"].append(run_measured(
                    [PY, "-c", BARE_SDK, url + "/openai/v1", str(n), str(args.concurrency)],
                    work, env))
                for name, extra in (("cold", []), ("cached", []),
                                    ("no-report", ["--llm-report=false"])):
                    before = sim_requests(url)
                    rows[name].append(run_measured(
                        [PY, "-m", "pytest", "evals", *common, *extra], work, env))
                    if name in calls:
                        calls[name].append(sim_requests(url) - before)
                loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ideal = n * args.latency_ms / 1000 / args.concurrency
    floor = rows["floor"]
    print(f"command: {' '.join([Path(PY).name, *sys.argv])}")
    print(f"cells={n} latency={args.latency_ms:g}ms concurrency={args.concurrency} "
          f"repeat={args.repeat}; load average (1 min) {_range(loads, '{:.1f}')}")
    print(f"calls to the simulator: cold {calls['cold']}, cached {calls['cached']}")
    for name, measured in rows.items():
        for i, m in enumerate(measured):
            ratio = (f"{m.wall / ideal:.2f}x ideal" if name in ("cold", "bare-sdk")
                     else f"{m.wall / floor[i].wall:.2f}x floor")
            print(f"{name:9} #{i + 1}: {m.wall:6.2f} s ({ratio}), cpu {m.cpu:5.2f} s, peak tree "
                  f"rss {m.peak:4.0f} MB ({_breakdown(m)}), "
                  f"exit {m.code}")

    def ratios(name: str, base: str) -> list[float]:
        return [m.wall / b.wall for m, b in zip(rows[name], rows[base], strict=True)]

    print()
    print(f"| {n} cells, {args.latency_ms:g} ms, concurrency {args.concurrency} | wall s | "
          "ratio | CPU s | peak RSS, process tree |")
    print("|---|---|---|---|---|")
    labels = {
        "floor": f"bare pytest, {n} no-op items (the floor)",
        "bare-sdk": f"bare OpenAI SDK client alone, {n} calls (no pytest, no harness)",
        "cold": "cold, default run (report + exports)",
        "cached": "cached rerun, default run (report + exports)",
        "no-report": "cached rerun, `--llm-report=false`",
    }
    for name, label in labels.items():
        measured = rows[name]
        if name == "floor":
            ratio = "1x"
        elif name in ("cold", "bare-sdk"):
            ratio = _range([m.wall / ideal for m in measured]) + f"x ideal ({ideal:g} s)"
        else:
            ratio = _range(ratios(name, "floor")) + "x floor"
        print(f"| {label} | {_range([m.wall for m in measured])} | {ratio} | "
              f"{_range([m.cpu for m in measured])} | "
              f"{_range([m.peak for m in measured], '{:.0f}')} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
