"""Case-level diffs: which cells changed verdict between two sides, with both outputs.

A side is a stored run (results.jsonl: outputs and assertion reasons), a baseline file
(verdicts and assertion names only: baselines keep no outputs), or one column (prompt
variant or target) of a run. Cells pair as the gate pairs them: same suite, case, prompt
label, target, temperature and repeat; for two columns of one run the column's value is
the one thing allowed to differ.

    pair_cells(before, after)      -> [DiffRow], changed verdicts first
    render_text(rows, ...)          the side-by-side terminal text of ``llm-harness diff``
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from harness.gate.baseline import Baseline, CellOutcome
from harness.types import Result

Axis = Literal["prompt", "target"]


@dataclass(frozen=True)
class Side:
    """One cell as the diff shows it."""

    status: str
    passed: bool
    #: The answer; None when the side is a baseline file (which keeps no outputs).
    output: str | None = None
    #: "assertion: reason" of each failed assertion (the reason only when the run has it).
    failing: tuple[str, ...] = ()
    error: str | None = None

    @property
    def label(self) -> str:
        return "passed" if self.passed else self.status.upper()


@dataclass(frozen=True)
class DiffCell:
    suite: str
    case: str
    prompt: str
    target: str
    temperature: float | None
    repeat: int
    side: Side

    @property
    def key(self) -> tuple[str, str, str, str, float | None, int]:
        return (self.suite, self.case, self.prompt, self.target, self.temperature, self.repeat)


@dataclass
class DiffRow:
    key: tuple[str, str, str, str, float | None, int]
    before: Side | None
    after: Side | None
    #: Within one run: the reference column the "before" side came from.
    reference: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        if self.before is None or self.after is None:
            return True
        return (self.before.passed, self.before.status) != (self.after.passed, self.after.status)

    @property
    def worse(self) -> bool:
        return bool(self.before and self.before.passed and self.after and not self.after.passed)

    def to_dict(self) -> dict[str, Any]:
        suite, case, prompt, target, temp, repeat = self.key
        return {
            "suite": suite,
            "case": case,
            "prompt": prompt,
            "target": target,
            "temperature": temp,
            "repeat": repeat,
            "reference": self.reference,
            "changed": self.changed,
            "worse": self.worse,
            "before": None if self.before is None else _side_dict(self.before),
            "after": None if self.after is None else _side_dict(self.after),
        }


def _side_dict(s: Side) -> dict[str, Any]:
    return {
        "status": s.status,
        "passed": s.passed,
        "output": s.output,
        "failing": list(s.failing),
        "error": s.error,
    }


def cells_from_results(results: Iterable[Result]) -> list[DiffCell]:
    out = []
    for r in results:
        if r.status == "skipped":
            continue
        failing = tuple(
            f"{s.get('name', 'score')}: {s.get('reason') or 'failed'}"
            for s in r.scores
            if not s.get("passed")
        )
        side = Side(r.status, bool(r.passed), r.output, failing, r.error)
        out.append(
            DiffCell(
                r.suite,
                r.case_id,
                r.prompt_id or "default",
                r.target,
                r.temperature,
                r.repeat,
                side,
            )
        )
    return out


def cells_from_baseline(baseline: Baseline) -> list[DiffCell]:
    return [_from_outcome(c) for c in baseline.cells if c.status != "skipped"]


def _from_outcome(c: CellOutcome) -> DiffCell:
    failing = tuple(name for name, ok in c.scores.items() if not ok)
    side = Side(c.status, c.passed, None, failing)
    return DiffCell(c.suite, c.case, c.prompt, c.target, c.temperature, c.repeat, side)


def pair_cells(before: Sequence[DiffCell], after: Sequence[DiffCell]) -> list[DiffRow]:
    """Every key on either side, changed verdicts first (worse before better), then in
    suite / case / prompt / target order."""
    old = {c.key: c.side for c in before}
    new = {c.key: c.side for c in after}
    rows = [DiffRow(k, old.get(k), new.get(k)) for k in set(old) | set(new)]
    rows.sort(key=lambda r: (not r.changed, not r.worse, _order(r.key)))
    return rows


def pair_columns(
    cells: Sequence[DiffCell], axis: Axis, reference: str, other: str
) -> list[DiffRow]:
    """Two columns of one run: ``reference``'s cells relabelled to ``other``, then paired."""

    def value(c: DiffCell) -> str:
        return c.prompt if axis == "prompt" else c.target

    def relabel(c: DiffCell) -> DiffCell:
        return replace(c, prompt=other) if axis == "prompt" else replace(c, target=other)

    rows = pair_cells(
        [relabel(c) for c in cells if value(c) == reference],
        [c for c in cells if value(c) == other],
    )
    for r in rows:
        r.reference = reference
    return rows


def _order(key: tuple[str, str, str, str, float | None, int]) -> tuple[Any, ...]:
    suite, case, prompt, target, temp, repeat = key
    return (suite, case, prompt, target, -1.0 if temp is None else temp, repeat)


# ---------------------------------------------------------------------------------------
# Text


def _where(row: DiffRow) -> str:
    suite, case, prompt, target, temp, repeat = row.key
    t = "default" if temp is None else f"{temp:g}"
    label = "" if prompt == "default" else f"{prompt} | "
    return f"{suite} / {case} [{label}{target} t={t} r{repeat}]"


def _box(side: Side | None, width: int, max_lines: int) -> list[str]:
    if side is None:
        return ["(not in this side)"]
    if side.output is None:
        text = side.error or "(no output stored: a baseline keeps verdicts only)"
    else:
        text = side.output if side.output.strip() else "(empty answer)"
    lines: list[str] = []
    for raw in text.splitlines() or [""]:
        lines += textwrap.wrap(raw, width, replace_whitespace=False, drop_whitespace=False) or [""]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], f"... ({len(lines) - max_lines + 1} more lines)"]
    return lines


def render_row(
    row: DiffRow, names: tuple[str, str], width: int = 100, max_lines: int = 8
) -> list[str]:
    before = row.before.label if row.before else "absent"
    after = row.after.label if row.after else "absent"
    mark = "  " if not row.changed else ("- " if row.worse else "+ ")
    out = [f"{mark}{_where(row)}: {before} -> {after}"]
    for title, side in ((names[0], row.before), (names[1], row.after)):
        if side is not None and side.failing:
            reasons = "; ".join(side.failing)
            out.append(f"    {title} failed: " + textwrap.shorten(reasons, width - 16))
    col = max(20, (width - 7) // 2)
    left = [names[0], *_box(row.before, col, max_lines)]
    right = [names[1], *_box(row.after, col, max_lines)]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        out.append(f"    {a.ljust(col)} | {b}".rstrip())
    return out


def render_text(
    rows: Sequence[DiffRow],
    names: tuple[str, str],
    *,
    show_all: bool = False,
    width: int = 100,
    max_lines: int = 8,
    limit: int = 50,
) -> str:
    changed = [r for r in rows if r.changed]
    worse = sum(r.worse for r in changed)
    lines = [
        f"A: {names[0]}",
        f"B: {names[1]}",
        f"{len(rows)} cells paired, {len(changed)} changed verdict "
        f"({worse} worse, {len(changed) - worse} better or only on one side)",
    ]
    shown = list(rows if show_all else changed)
    for r in shown[:limit]:
        lines.append("")
        lines += render_row(r, ("A", "B"), width, max_lines)
    if len(shown) > limit:
        lines.append(f"\n... {len(shown) - limit} more (raise --limit)")
    if not show_all and len(rows) > len(changed):
        lines.append(f"\n{len(rows) - len(changed)} unchanged cells not shown (--all shows them)")
    return "\n".join(lines)
