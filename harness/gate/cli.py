"""``llm-harness compare A B``: the gate's comparison for two stored runs.

A is the reference: a run directory, a results.jsonl file, a baseline file or
``git:REF:PATH``. B is the run to judge: a run directory or results.jsonl (or another
baseline). ``llm-harness compare RUN --prompts v1,v2`` (or ``--targets A,B``) compares two
columns of one run instead, paired on the same cases. Settings come from the gate
configuration under --rootdir (default: the current directory), flags on top.

Exit status: 0, or 6 (GATE_EXIT_CODE) with --fail when any verdict is a regression;
2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.gate.baseline import (
    FORMAT,
    Baseline,
    baseline_from_results,
    is_git_spec,
    load_baseline,
)
from harness.gate.compare import compare_baselines
from harness.gate.render import GATE_EXIT_CODE, render_markdown, render_text
from harness.gate.settings import GateSettings, load_gate_settings
from harness.gate.within import Axis
from harness.results.store import load_meta, load_results, results_file
from harness.types import Result


def _is_baseline_file(path: Path) -> bool:
    if path.is_dir() or path.suffix == ".jsonl":
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return f'"{FORMAT}"' in head or '"cells"' in head.lstrip()[:20]


def open_side(text: str) -> Baseline | Path:
    """What one side of a comparison names: a Baseline (a baseline file or ``git:REF:PATH``)
    or the path of a stored run (a run directory or its results.jsonl, read by load_run)."""
    if is_git_spec(text):
        return load_baseline(text)
    path = Path(text)
    if not path.exists():
        raise ConfigError(
            f"{path}: not found\n  fix: pass a run directory (reports/runs/<run-id>), its "
            "results.jsonl, a baseline file written by --llm-save-baseline, or git:REF:PATH"
        )
    return load_baseline(path) if _is_baseline_file(path) else path


def load_side(text: str) -> Baseline:
    """A run directory, a results.jsonl file, a baseline file or git:REF:PATH, as a Baseline."""
    side = open_side(text)
    if isinstance(side, Baseline):
        return side
    results, meta = load_run(side)
    return baseline_from_results(results, meta, source=str(side))


def load_run(path: Path) -> tuple[list[Result], dict[str, Any]]:
    """A stored run's records and meta; ConfigError when there are none."""
    source = results_file(path)
    if not source.is_file():
        raise ConfigError(
            f"{path}: no results.jsonl here\n  fix: pass a run directory "
            "(reports/runs/<run-id>) or its results.jsonl"
        )
    try:
        results = load_results(path)
        meta = load_meta(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: cannot be read ({exc})") from None
    if not results:
        raise ConfigError(
            f"{source}: holds no results\n  fix: pass a run that finished at least one cell"
        )
    return results, meta


def parse_pair(option: str, text: str) -> tuple[str, str]:
    """``v1,v2`` -> ("v1", "v2"): the reference first."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise ConfigError(
            f"{option} {text!r}: expected two different names, the reference first\n"
            f"  fix: {option} v1,v2"
        )
    return parts[0], parts[1]


def column_pair(
    prompts: str | None, targets: str | None, second_side: str | None
) -> tuple[Axis, str, str]:
    """``--prompts v1,v2`` / ``--targets A,B``: the axis and the (reference, other) names.
    Two columns are of one run, so a second run given beside them is an error."""
    if second_side is not None:
        raise ConfigError(
            f"{second_side}: --prompts / --targets compare two columns of one run\n"
            "  fix: pass one run directory"
        )
    axis: Axis = "prompt" if prompts else "target"
    option = "--prompts" if prompts else "--targets"
    reference, other = parse_pair(option, prompts or targets or "")
    return axis, reference, other


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-harness compare",
        description="Compare two stored runs (or a baseline file and a run) with the gate's "
        "paired tests. Exit status 6 with --fail when there is a regression.",
    )
    parser.add_argument(
        "baseline", metavar="A", help="reference: run dir, results.jsonl or baseline file"
    )
    parser.add_argument(
        "current",
        metavar="B",
        nargs="?",
        help="run to judge: run dir or results.jsonl (omit with --prompts / --targets)",
    )
    columns = parser.add_mutually_exclusive_group()
    columns.add_argument(
        "--prompts",
        metavar="REF,OTHER",
        help="compare two prompt variants of run A, paired on the same cases",
    )
    columns.add_argument(
        "--targets",
        metavar="REF,OTHER",
        help="compare two targets of run A, paired on the same cases",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="print Markdown (for summary.md)")
    out.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument(
        "--fail",
        action="store_true",
        help=f"exit {GATE_EXIT_CODE} when any verdict is a regression",
    )
    parser.add_argument(
        "--rootdir",
        default=".",
        help="where pyproject.toml / the ini file with the gate settings lives (default: .)",
    )
    for name, help_text in (
        ("alpha", "significance level (default 0.05)"),
        ("min-effect", "smallest rate change that counts, e.g. 0.05 = 5 points"),
        ("latency-tolerance", "smallest typical-latency ratio that can be a verdict, e.g. 1.25"),
        ("latency-slack-ms", "typical-latency shifts up to this many ms never count"),
        ("cost-tolerance", "smallest cost-per-call ratio that can be a verdict, e.g. 1.10"),
        ("min-pass-rate", "absolute pass-rate floor for every group"),
        ("min-cases", "fewest paired cases for a verdict"),
        ("correction", "holm or none"),
    ):
        parser.add_argument(f"--{name}", default=None, help=help_text)
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    keys = (
        "alpha",
        "min_effect",
        "latency_tolerance",
        "latency_slack_ms",
        "cost_tolerance",
        "min_pass_rate",
        "min_cases",
        "correction",
    )
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    settings = load_gate_settings(Path(args.rootdir), overrides)
    if args.prompts or args.targets:
        return _columns(args, settings)
    if args.current is None:
        raise ConfigError(
            "compare needs two sides\n  fix: llm-harness compare A B, or "
            "llm-harness compare RUN --prompts v1,v2"
        )
    before = load_side(args.baseline)
    after = load_side(args.current)
    comparison = compare_baselines(before, after, settings)
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2, default=str))
    elif args.markdown:
        sys.stdout.write(render_markdown(comparison))
    else:
        print(render_text(comparison))
    return GATE_EXIT_CODE if args.fail and comparison.has_regression else 0


def _columns(args: argparse.Namespace, settings: GateSettings) -> int:
    """Two prompt variants or two targets of one run: paired verdicts and the side table."""
    from harness.gate.within import column_comparison, column_rows, render_columns

    axis, reference, other = column_pair(args.prompts, args.targets, args.current)
    results, _ = load_run(Path(args.baseline))
    comparison = column_comparison(results, axis, reference, other, settings)
    if args.json:
        data = comparison.to_dict()
        data["rows"] = column_rows(comparison, results, axis)
        print(json.dumps(data, indent=2, default=str))
    elif args.markdown:
        sys.stdout.write(render_markdown(comparison))
    else:
        print(render_columns(column_rows(comparison, results, axis)))
        print()
        print(render_text(comparison))
    return GATE_EXIT_CODE if args.fail and comparison.has_regression else 0
