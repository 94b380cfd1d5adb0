"""``llm-harness report RUN... [-o FILE]``: re-render report.html and the exports from
stored runs, without calling any provider.

RUN is a run directory or a results.jsonl. Several runs merge into one comparison; a target
present in more than one run is shown once per run, suffixed with the run id. The HTML goes
to FILE (default: ``report.html`` in the run directory for one run, ``reports/merged/`` for
several); summary.md, summary.json, results.csv and results.parquet go next to it.

The shards of one split run (``--llm-shard K/N``; their meta.json says so) merge into that
run instead: their records together, one summary, and results.jsonl + meta.json beside the
report, so the folder is a run for ``llm-harness compare`` and ``--save-baseline``. A missing
shard is a warning; shards of different splits, a shard given twice, or shards mixed with
whole runs are errors. ``--save-baseline PATH`` writes the (merged) run as a baseline file.
Unreadable input prints one line naming file and line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.report.merge import (
    ReportInputError,
    is_shard_set,
    load_run,
    merge_runs,
    merge_shards,
)
from harness.types import Result

EXIT_USAGE = 2

DEFAULT_MERGED = Path("reports") / "merged" / "report.html"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-harness report",
        description="Re-render report.html, summary.md and the CSV/Parquet exports from stored "
        "runs. Several runs merge into one comparison. No provider is called.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directory or results.jsonl")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="where to write the HTML report; the other files go next to it "
        "(default: RUN/report.html for one run, reports/merged/report.html for several)",
    )
    p.add_argument(
        "--save-baseline",
        type=Path,
        metavar="PATH",
        help="also write the run (or the shards merged into one run) as a baseline file",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from harness.gcpause import collector_paused

    with collector_paused():
        return _main(argv)


def _main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse has printed the usage line already
        return int(exc.code or 0)
    try:
        runs = [load_run(Path(p)) for p in args.runs]
    except ReportInputError as exc:
        print(f"llm-harness report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for run in runs:
        for warning in run.warnings:
            print(f"llm-harness report: warning: {warning}", file=sys.stderr)
    try:
        shards = len(runs) > 1 and is_shard_set(runs)
    except ReportInputError as exc:
        print(f"llm-harness report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if shards:
        results, meta, missing = merge_shards(runs)
        if missing:
            count = meta["shards"][0]["count"]
            names = ", ".join(f"{k}/{count}" for k in missing)
            print(
                f"llm-harness report: warning: shard(s) {names} not given: the merged run "
                "lacks their cells",
                file=sys.stderr,
            )
    else:
        results, meta = merge_runs(runs)
    if args.save_baseline is not None and len(runs) > 1 and not shards:
        print(
            "llm-harness report: --save-baseline needs one run or the shards of one run "
            "(several whole runs are a side-by-side comparison, not one run)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    html_path: Path = args.output or (
        runs[0].path.parent / "report.html" if len(runs) == 1 else DEFAULT_MERGED
    )
    if html_path.exists() and html_path.is_dir():
        html_path = html_path / "report.html"
    out_dir = html_path.parent
    if shards and any(run.path.parent.resolve() == out_dir.resolve() for run in runs):
        print(
            f"llm-harness report: {out_dir} is one of the shards' folders; write the merged "
            "run elsewhere (-o merged/report.html)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    from harness.report import write_reports
    from harness.results.stats import summarize

    groups = summarize(results)
    # One run, or the shards of one run: its variants compare; separate runs do not pair.
    comparisons = _variant_comparisons(results) if len(runs) == 1 or shards else None
    try:
        files = write_reports(
            out_dir, results, meta, groups, html_path=html_path, comparisons=comparisons
        )
        summary = out_dir / "summary.json"
        summary.write_text(
            json.dumps([g.to_dict() for g in groups], indent=2, ensure_ascii=False, default=str),
            "utf-8",
        )
    except OSError as exc:
        print(f"llm-harness report: cannot write to {out_dir}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    files["summary.json"] = summary
    try:
        if shards:
            files.update(_write_run(out_dir, results, meta))
        if args.save_baseline is not None:
            from harness.gate.baseline import save_baseline

            save_baseline(results, args.save_baseline, meta)
            files["baseline"] = args.save_baseline
    except OSError as exc:
        print(f"llm-harness report: cannot write: {exc}", file=sys.stderr)
        return EXIT_USAGE
    n_runs = (
        f"{len(runs)} shards merged into one run, "
        if shards
        else (f"{len(runs)} runs merged, " if len(runs) > 1 else "")
    )
    print(f"{n_runs}{len(results)} cells")
    for name, path in files.items():
        print(f"  {name}: {path}")
    return 0


def _variant_comparisons(results: list[Result]) -> dict[str, Any] | None:
    """A re-rendered run keeps its prompt-variant comparison (the gate's needs the baseline,
    which a stored run does not name; `llm-harness compare` gives it)."""
    from harness.gate.outputs import report_data, variant_view
    from harness.gate.settings import GateSettings

    view = variant_view(results, GateSettings())
    return report_data(None, view) if view is not None else None


def _write_run(out_dir: Path, results: list[Result], meta: dict[str, Any]) -> dict[str, Path]:
    """results.jsonl and meta.json of a merged run (written whole, replacing a previous
    merge's), so the folder is read like any run folder."""
    from harness.results.store import RunStore

    path = out_dir / "results.jsonl"
    tmp = path.with_name("results.jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps(r.to_dict(), ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)
    store = RunStore(out_dir)
    return {"results.jsonl": path, "meta.json": store.write_json("meta.json", meta)}
