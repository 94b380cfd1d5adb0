"""``llm-harness diff``: the cases whose verdict changed, with both outputs side by side.

    llm-harness diff A B                  A, B: run dirs, results.jsonl, baselines, git:REF:PATH
    llm-harness diff RUN --prompts v1,v2  two prompt variants of one run
    llm-harness diff RUN --targets A,B    two targets of one run

Changed verdicts come first (worse before better), each with the failing assertion and its
reason and both answers wrapped side by side; ``--all`` lists unchanged cells too. A
baseline keeps verdicts, not answers, so its side shows the verdict and the assertion names.
Exit status 0 (1 with --fail-on-change when a verdict got worse); 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence

from harness.errors import ConfigError
from harness.gate.baseline import Baseline
from harness.gate.cli import column_pair, load_run, open_side
from harness.gate.diff import (
    DiffCell,
    cells_from_baseline,
    cells_from_results,
    pair_cells,
    pair_columns,
    render_text,
)


def _cells(text: str) -> list[DiffCell]:
    side = open_side(text)
    if isinstance(side, Baseline):
        return cells_from_baseline(side)
    results, _ = load_run(side)
    return cells_from_results(results)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-harness diff",
        description="Cases whose verdict changed between two runs (or baselines, or two "
        "prompt variants / targets of one run), both outputs side by side.",
    )
    parser.add_argument("a", metavar="A", help="reference: run dir, results.jsonl, baseline")
    parser.add_argument("b", metavar="B", nargs="?", help="the other side (omit with --prompts)")
    columns = parser.add_mutually_exclusive_group()
    columns.add_argument("--prompts", metavar="REF,OTHER", help="two prompt variants of run A")
    columns.add_argument("--targets", metavar="REF,OTHER", help="two targets of run A")
    parser.add_argument("--all", action="store_true", help="also list unchanged cells")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--limit", type=int, default=50, help="most cells listed (default 50)")
    parser.add_argument("--lines", type=int, default=8, help="most lines per answer (default 8)")
    parser.add_argument("--width", type=int, default=None, help="text width (default: terminal)")
    parser.add_argument(
        "--fail-on-change",
        action="store_true",
        help="exit 1 when any cell's verdict got worse",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    if args.prompts or args.targets:
        axis, ref, other = column_pair(args.prompts, args.targets, args.b)
        cells = _cells(args.a)
        present = {c.prompt if axis == "prompt" else c.target for c in cells}
        for name in (ref, other):
            if name not in present:
                raise ConfigError(
                    f"{args.a}: no cells with {axis} {name!r}\n  fix: use one of "
                    + ", ".join(sorted(present))
                )
        rows = pair_columns(cells, axis, ref, other)
        names = (f"{args.a} {axis} {ref}", f"{args.a} {axis} {other}")
    else:
        if args.b is None:
            raise ConfigError(
                "diff needs two sides\n  fix: llm-harness diff A B, or "
                "llm-harness diff RUN --prompts v1,v2"
            )
        rows = pair_cells(_cells(args.a), _cells(args.b))
        names = (args.a, args.b)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows if args.all or r.changed], indent=2))
    else:
        width = args.width or min(160, shutil.get_terminal_size((120, 24)).columns)
        text = render_text(
            rows, names, show_all=args.all, width=width, max_lines=args.lines, limit=args.limit
        )
        sys.stdout.write(text + "\n")
    return 1 if args.fail_on_change and any(r.worse for r in rows) else 0
