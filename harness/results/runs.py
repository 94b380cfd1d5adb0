"""``llm-harness runs`` and ``llm-harness view``: the way back to past runs.

``runs`` lists the run folders under ``reports/runs/`` (newest last) with their headline
figures from summary.json; ``view [RUN]`` opens the latest (or the named) run's report.html
in the browser, or with ``--serve`` serves the runs folder on 127.0.0.1. Nothing here
calls a provider or rewrites a run.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import threading
import webbrowser
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.money import usd

DEFAULT_RUNS = Path("reports") / "runs"


@dataclass
class RunInfo:
    path: Path
    cells: int = 0
    ran: int = 0
    pass_rate: float | None = None
    cost_usd: float = 0.0
    targets: int = 0
    has_report: bool = False

    @property
    def line(self) -> str:
        rate = "-" if self.pass_rate is None else f"{self.pass_rate * 100:.0f}%"
        report = "report.html" if self.has_report else "no report"
        return (
            f"{self.path.name}  {self.cells} cells ({self.ran} ran), pass {rate}, "
            f"{usd(self.cost_usd)} spent, {self.targets} targets, {report}"
        )


def run_dirs(runs: Path) -> list[Path]:
    """Run folders (those holding results.jsonl), oldest first: run ids start with the time."""
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if (p / "results.jsonl").is_file())


def run_info(path: Path) -> RunInfo:
    info = RunInfo(path, has_report=(path / "report.html").is_file())
    try:
        groups: list[dict[str, Any]] = json.loads((path / "summary.json").read_text("utf-8"))
    except (OSError, ValueError):
        return info  # an interrupted run has results but no summary: listed without figures
    passed = 0.0
    for g in groups:
        ran = int(g.get("cells", 0)) - int(g.get("skipped", 0))
        info.cells += int(g.get("cells", 0))
        info.ran += ran
        passed += (g.get("pass_rate") or 0.0) * ran
        info.cost_usd += g.get("cost_usd") or 0.0
    info.targets = len({g.get("target") for g in groups})
    info.pass_rate = passed / info.ran if info.ran else None
    return info


def find_run(runs: Path, name: str | None) -> Path:
    """The named run (a folder, or a run id under ``runs``), or the latest."""
    if name is None:
        found = run_dirs(runs)
        if not found:
            raise ConfigError(
                f"no runs in {runs}\n  fix: run the suites first (llm-harness run), or pass "
                "--runs DIR"
            )
        return found[-1]
    for candidate in (Path(name), runs / name):
        if (candidate / "results.jsonl").is_file():
            return candidate
    matches = [p for p in run_dirs(runs) if name in p.name]
    if len(matches) == 1:
        return matches[0]
    raise ConfigError(
        f"{name}: no such run in {runs}"
        + (f" ({len(matches)} match)" if matches else "")
        + "\n  fix: `llm-harness runs` lists them"
    )


def main_runs(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness runs", description="List past runs with their headline figures."
    )
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="runs folder")
    args = parser.parse_args(argv)
    found = run_dirs(args.runs)
    if not found:
        print(f"no runs in {args.runs}")
        return 0
    for path in found:
        print(run_info(path).line)
    return 0


def serve(root: Path, port: int, stop: threading.Event | None = None) -> int:
    """Serve ``root`` on 127.0.0.1 until Ctrl-C (or ``stop``)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        print(f"serving {root} on http://127.0.0.1:{httpd.server_address[1]}/  (Ctrl-C to stop)")
        sys.stdout.flush()
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            waiter = stop or threading.Event()
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            httpd.shutdown()
    return 0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return  # one line per file fetched would bury the URL


def main_view(argv: Sequence[str] | None = None, *, stop: threading.Event | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness view",
        description="Open the latest (or the named) run's report.html in the browser.",
    )
    parser.add_argument("run", nargs="?", help="run id (or part of it) or run folder")
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="runs folder")
    parser.add_argument(
        "--serve", action="store_true", help="serve the runs folder on 127.0.0.1 instead"
    )
    parser.add_argument("--port", type=int, default=8410, help="port for --serve (0: any)")
    args = parser.parse_args(argv)
    if args.serve:
        if not args.runs.is_dir():
            raise ConfigError(f"{args.runs}: no runs folder here\n  fix: pass --runs DIR")
        return serve(args.runs, args.port, stop)
    path = find_run(args.runs, args.run)
    report = path / "report.html"
    if not report.is_file():
        raise ConfigError(f"{path}: has no report.html\n  fix: llm-harness report {path}")
    print(report.resolve())
    webbrowser.open(report.resolve().as_uri())
    return 0
