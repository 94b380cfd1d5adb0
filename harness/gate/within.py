"""Within one run: one column of the matrix against another, paired on the same cases.

The gate's comparison (compare.py: exact McNemar or sign-flip, Newcombe intervals, Holm)
judges a run against a baseline. The same machinery judges two prompt variants, or two
targets, of one run: the cells of the reference column become the "before" side and the
other column's the "after" side, both relabelled to the compared column so that they fall in
the same group and pair case by case (same suite, case, temperature, repeat). Every
comparison made from one run shares one Holm correction.

    variant_comparison(results, settings)          each variant against the suite's first
    column_comparison(results, "prompt", a, b, s)  two named variants (or "target" columns)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Literal

from harness.gate.baseline import Baseline, CellOutcome, baseline_from_results
from harness.gate.compare import Comparison, GroupComparison, compare_baselines
from harness.gate.render import LABELS
from harness.gate.settings import GateSettings
from harness.money import usd_column
from harness.results.stats import GroupStats, summarize
from harness.types import Result

Axis = Literal["prompt", "target"]


def _relabel(cells: Iterable[CellOutcome], axis: Axis, label: str) -> list[CellOutcome]:
    if axis == "prompt":
        return [replace(c, prompt=label) for c in cells]
    return [replace(c, target=label) for c in cells]


def _value(c: CellOutcome, axis: Axis) -> str:
    return c.prompt if axis == "prompt" else c.target


def pairs_for_variants(results: Sequence[Result]) -> list[tuple[str, str, str]]:
    """(suite, reference, variant) for every suite with two or more variants: each variant
    against the suite's first (in the order the run met them, which is the suite's)."""
    order: dict[str, list[str]] = {}
    for r in results:
        seen = order.setdefault(r.suite, [])
        if r.prompt_id not in seen:
            seen.append(r.prompt_id)
    return [(s, labels[0], v) for s, labels in order.items() for v in labels[1:]]


def _compare(
    cells: list[CellOutcome],
    axis: Axis,
    pairs: Sequence[tuple[str | None, str, str]],
    settings: GateSettings,
    source: str,
) -> Comparison:
    """One Comparison holding every (reference, other) pair, Holm-corrected together."""
    before: list[CellOutcome] = []
    after: list[CellOutcome] = []
    for suite, ref, other in pairs:
        mine = [c for c in cells if suite is None or c.suite == suite]
        before += _relabel((c for c in mine if _value(c, axis) == ref), axis, other)
        after += [c for c in mine if _value(c, axis) == other]
    comparison = compare_baselines(
        Baseline(cells=before, source=source), Baseline(cells=after, source=source), settings
    )
    refs = {(s, o): r for s, r, o in pairs}
    for g in comparison.groups:
        # The two columns' prompts differ by design: that is not news here; and the pass
        # floor judges a run, not one column against another.
        g.prompt_changed_cases, g.prompt_diff = [], []
        g.metrics = [m for m in g.metrics if m.metric != "pass_rate_floor"]
        value = _group_value(g, axis)
        g.reference = refs.get((g.suite, value)) or refs.get((None, value)) or ""
    what = "prompt" if axis == "prompt" else "target"
    comparison.baseline = f"reference {what}s ({', '.join(sorted({r for _, r, _ in pairs}))})"
    comparison.current = f"{what}s {', '.join(sorted({o for _, _, o in pairs}))} of {source}"
    return comparison


def _group_value(g: GroupComparison, axis: Axis) -> str:
    return g.prompt if axis == "prompt" else g.target


def variant_comparison(results: Sequence[Result], settings: GateSettings) -> Comparison | None:
    """Each prompt variant against its suite's first; None when no suite has two."""
    pairs = pairs_for_variants(results)
    if not pairs:
        return None
    cells = baseline_from_results(results).cells
    return _compare(cells, "prompt", pairs, settings, _run_label(results))


def column_comparison(
    results: Sequence[Result], axis: Axis, reference: str, other: str, settings: GateSettings
) -> Comparison:
    """``other`` against ``reference`` along one axis, in every suite that has both."""
    cells = baseline_from_results(results).cells
    present = {_value(c, axis) for c in cells}
    for name in (reference, other):
        if name not in present:
            from harness.errors import ConfigError

            raise ConfigError(
                f"no cells with {axis} {name!r} in this run\n  fix: use one of "
                + ", ".join(sorted(present))
            )
    return _compare(cells, axis, [(None, reference, other)], settings, _run_label(results))


def _run_label(results: Sequence[Result]) -> str:
    run_ids = sorted({r.run_id for r in results if r.run_id})
    return "run " + ", ".join(run_ids) if run_ids else "this run"


# ---------------------------------------------------------------------------------------
# The side-by-side table: rates, latency and cost of both columns with the paired verdict.

COLUMNS = (
    "suite",
    "target",
    "temp",
    "prompt",
    "vs",
    "pass",
    "schema",
    "p50 ms",
    "p95 ms",
    "$/call",
    "p (pass, schema)",
    "verdict",
)


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _pair(a: str, b: str) -> str:
    return a if a == b else f"{a} -> {b}"


def column_rows(
    comparison: Comparison, results: Sequence[Result], axis: Axis = "prompt"
) -> list[dict[str, Any]]:
    """One row per compared group: both columns' figures and the paired verdicts."""
    stats = {g.key: g for g in summarize(results)}
    rows = []
    for g in comparison.groups:
        if g.status != "compared":
            continue
        ref = g.reference
        if axis == "prompt":
            before_key = (g.suite, g.target, g.temperature, ref)
        else:
            before_key = (g.suite, ref, g.temperature, g.prompt)
        a: GroupStats | None = stats.get(before_key)
        b: GroupStats | None = stats.get(g.key)
        metrics = {m.metric: m for m in g.metrics}
        row: dict[str, Any] = {
            "suite": g.suite,
            "target": g.target,
            "temperature": g.temperature,
            "prompt": g.prompt,
            "reference": ref,
            "axis": axis,
            "paired_cases": g.paired_cases,
            "verdict": g.verdict.value,
        }
        for name, attr in (
            ("pass_rate", "pass_rate"),
            ("schema_valid_rate", "schema_valid_rate"),
            ("latency_p50_ms", "latency_p50_ms"),
            ("latency_p95_ms", "latency_p95_ms"),
            ("cost_per_call_usd", "cost_per_call_usd"),
        ):
            row[name] = {
                "reference": getattr(a, attr, None) if a else None,
                "compared": getattr(b, attr, None) if b else None,
            }
        row["metrics"] = {k: m.to_dict() for k, m in metrics.items()}
        rows.append(row)
    return rows


def render_columns(rows: list[dict[str, Any]]) -> str:
    """The terminal table of ``column_rows``; empty when there is nothing to show."""
    if not rows:
        return ""
    out = [COLUMNS]
    for r in rows:
        temp = "default" if r["temperature"] is None else f"{r['temperature']:g}"
        m = r["metrics"]
        ps = [
            _p(m[k].get("p_adjusted") or m[k].get("p_value")) if k in m else "-"
            for k in ("pass_rate", "schema_valid_rate")
        ]
        worse = [LABELS.get(k, k) for k in m if m[k]["verdict"] == "regression"]
        better = [LABELS.get(k, k) for k in m if m[k]["verdict"] == "improvement"]
        verdicts = ([f"REGRESSION: {', '.join(worse)}"] if worse else []) + (
            [f"improvement: {', '.join(better)}"] if better else []
        )
        out.append(
            (
                r["suite"],
                r["target"] if r["axis"] == "prompt" else _pair(r["reference"], r["target"]),
                temp,
                r["prompt"],
                r["reference"],
                _pair(_rate(r["pass_rate"]["reference"]), _rate(r["pass_rate"]["compared"])),
                _pair(
                    _rate(r["schema_valid_rate"]["reference"]),
                    _rate(r["schema_valid_rate"]["compared"]),
                ),
                _pair(_ms(r["latency_p50_ms"]["reference"]), _ms(r["latency_p50_ms"]["compared"])),
                _pair(_ms(r["latency_p95_ms"]["reference"]), _ms(r["latency_p95_ms"]["compared"])),
                _pair(
                    usd_column(r["cost_per_call_usd"]["reference"]),
                    usd_column(r["cost_per_call_usd"]["compared"]),
                ),
                ", ".join(ps),
                "; ".join(verdicts) if verdicts else r["verdict"],
            )
        )
    widths = [max(len(row[i]) for row in out) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in out
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.3g}" if p >= 0.001 else f"{p:.1e}"
