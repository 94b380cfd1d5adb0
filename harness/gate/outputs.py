"""What the end of a run shows about comparisons: the gate against a baseline, and prompt
variants against their suite's reference variant, as terminal text, JSON for summary.json,
data for report.html, and Markdown for CI (GITHUB_STEP_SUMMARY, ``--llm-gate-md``).

finish.py calls these; they never raise for a comparison that cannot be made (a gate that
cannot judge reports why instead).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.gate.compare import Comparison, compare
from harness.gate.diff import (
    DiffCell,
    DiffRow,
    cells_from_baseline,
    cells_from_results,
    pair_cells,
)
from harness.gate.render import render_markdown, render_text
from harness.gate.settings import GateSettings
from harness.gate.within import column_rows, render_columns, variant_comparison
from harness.types import Result

#: Changed cases listed in Markdown (a PR comment has a size limit; the report has them all).
MD_MAX_CASES = 30
#: Case rows embedded in report.html's comparison view (changed ones always come first).
REPORT_MAX_CASES = 2000


@dataclass
class GateView:
    comparison: Comparison
    cases: list[DiffRow] = field(default_factory=list)

    @property
    def changed(self) -> list[DiffRow]:
        return [r for r in self.cases if r.changed and r.before is not None and r.after]


def judge(
    baseline_spec: Path,
    results: Sequence[Result],
    settings: GateSettings,
    cwd: Path,
    prompts: list[dict[str, Any]] | None = None,
    cells: list[DiffCell] | None = None,
) -> GateView:
    """Load the baseline (file or git:REF:PATH) and compare; ConfigError when unreadable.
    ``prompts``: see harness.gate.baseline.baseline_from_results; ``cells``: the run's
    cells_from_results made from its full records (with their answers), for the case-level
    diff, when ``results`` are held slim."""
    from harness.gate.baseline import load_baseline

    baseline = load_baseline(baseline_spec, cwd=cwd)
    comparison = compare(baseline, list(results), settings, prompts)
    after = cells_from_results(results) if cells is None else cells
    cases = pair_cells(cells_from_baseline(baseline), after)
    return GateView(comparison, cases)


@dataclass
class VariantView:
    comparison: Comparison
    rows: list[dict[str, Any]]
    cases: list[DiffRow]

    @property
    def text(self) -> str:
        table = render_columns(self.rows)
        worse = [
            f"{r['suite']} {r['prompt']} vs {r['reference']} ({r['target']})"
            for r in self.rows
            if r["verdict"] == "regression"
        ]
        better = [
            f"{r['suite']} {r['prompt']} vs {r['reference']} ({r['target']})"
            for r in self.rows
            if r["verdict"] == "improvement"
        ]
        lines = [
            "each prompt variant against its suite's first, paired on the same cases "
            "(the gate's tests: exact McNemar, or sign-flip with repeats, for the rates; latency "
            "and cost as the gate judges them; Holm over all of them)",
            table,
        ]
        if worse:
            lines.append("significantly worse: " + "; ".join(worse))
        if better:
            lines.append("significantly better: " + "; ".join(better))
        if not worse and not better:
            lines.append("no variant differs significantly from its reference")
        return "\n".join(lines)


def variant_view(
    results: Sequence[Result],
    settings: GateSettings,
    cells: list[DiffCell] | None = None,
) -> VariantView | None:
    """Each prompt variant against its suite's first; ``cells`` as for judge."""
    comparison = variant_comparison(results, settings)
    if comparison is None:
        return None
    from harness.gate.diff import pair_columns

    if cells is None:
        cells = cells_from_results(results)
    cases: list[DiffRow] = []
    for g in comparison.groups:
        if g.status != "compared":
            continue
        rows = pair_columns(
            [c for c in cells if c.suite == g.suite and c.target == g.target],
            "prompt",
            g.reference,
            g.prompt,
        )
        cases += [r for r in rows if r.key[4] == g.temperature]
    cases.sort(key=lambda r: (not r.changed, not r.worse))
    return VariantView(comparison, column_rows(comparison, results, "prompt"), cases)


def report_data(gate: GateView | None, variants: VariantView | None) -> dict[str, Any]:
    """The comparison part of report.html: verdict text, tables and per-case rows."""
    data: dict[str, Any] = {}
    if gate is not None:
        c = gate.comparison
        data["gate"] = {
            "baseline": c.baseline,
            "current": c.current,
            "has_regression": c.has_regression,
            "text": render_text(c),
            "groups": [g.to_dict() for g in c.groups],
            "cases": [r.to_dict() for r in gate.cases[:REPORT_MAX_CASES]],
            "changed": len(gate.changed),
        }
    if variants is not None:
        data["variants"] = {
            "rows": variants.rows,
            "text": variants.text,
            "cases": [r.to_dict() for r in variants.cases[:REPORT_MAX_CASES]],
            "changed": sum(r.changed for r in variants.cases),
        }
    return data


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _clip(text: str | None, n: int = 120) -> str:
    if text is None:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def gate_markdown(gate: GateView, mode: str) -> str:
    """The verdict table (render_markdown) followed by the cases whose verdict changed."""
    text = render_markdown(gate.comparison)
    if gate.comparison.has_regression and mode == "fail":
        text += "\n**Gate failed** (exit status 6): regression against the baseline.\n"
    changed = gate.changed
    if changed:
        text += f"\n### Cases whose verdict changed ({len(changed)})\n\n"
        text += "| case | prompt | target | baseline | now | failing assertion | answer now |\n"
        text += "|---|---|---|---|---|---|---|\n"
        for r in changed[:MD_MAX_CASES]:
            suite, case, prompt, target, _, repeat = r.key
            assert r.before is not None and r.after is not None
            failing = r.after.failing or r.before.failing
            text += (
                f"| {_md(suite)} / {_md(case)} r{repeat} | {_md(prompt)} | {_md(target)} "
                f"| {r.before.label} | {r.after.label} | {_md(_clip('; '.join(failing), 80))} "
                f"| {_md(_clip(r.after.output))} |\n"
            )
        if len(changed) > MD_MAX_CASES:
            text += f"\n{len(changed) - MD_MAX_CASES} more in report.html and `llm-harness diff`.\n"
    return text


def append_step_summary(markdown: str) -> Path | None:
    """Append to $GITHUB_STEP_SUMMARY when GitHub Actions set it; the path, or None."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path
