"""Named metrics: assertions with ``metric: <name>`` aggregated per group.

Each scored cell's assertions that carry a ``metric`` name (in the result's ``scores``) are
counted per group (harness.results.stats.group_key: suite, target, temperature, and whatever else
the grouping gains): how many passed, of how many, and the mean score, where a numeric
score value counts as itself and a pass/fail as 1/0. ``finish`` writes them into
summary.json (``metrics`` on a group) and a terminal section.

A suite's ``derived_metrics`` (name -> expression, carried on its results) are computed per
group from the metrics' means and the derived metrics before them, in order::

    derived_metrics:
      precision: tp / (tp + fp)          # tp, fp, fn: metric names of assertions
      recall: tp / (tp + fn)
      f1: 2 * precision * recall / (precision + recall)

with harness.scoring.expr (the restricted evaluation); one that cannot be computed (a
division by zero, a metric absent from the group) is None with the reason beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from harness.results.stats import group_key
from harness.types import Result


def _numeric(score: dict[str, Any]) -> float:
    value = score.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 1.0 if score.get("passed") else 0.0


def aggregate(results: Iterable[Result]) -> dict[tuple[Any, ...], dict[str, dict[str, Any]]]:
    """group key -> metric name -> {passed, total, pass_rate, mean}; derived metrics as
    name -> {derived: value or None, formula, error}."""
    sums: dict[tuple[Any, ...], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0, 0.0])
    )
    formulas: dict[tuple[Any, ...], dict[str, str]] = {}
    for r in results:
        if r.derived_metrics and group_key(r) not in formulas:
            formulas[group_key(r)] = dict(r.derived_metrics)
        if r.status not in ("passed", "failed"):
            continue
        for score in r.scores:
            name = score.get("metric")
            if not name:
                continue
            acc = sums[group_key(r)][name]
            acc[0] += bool(score.get("passed"))
            acc[1] += 1
            acc[2] += _numeric(score)
    table: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {
        key: {
            name: {
                "passed": int(p),
                "total": int(n),
                "pass_rate": p / n,
                "mean": s / n,
            }
            for name, (p, n, s) in sorted(metrics.items())
        }
        for key, metrics in sums.items()
    }
    for key, derived in formulas.items():
        group = table.setdefault(key, {})
        means = {name: m["mean"] for name, m in group.items()}
        for name, source in derived.items():  # in order: later ones may use earlier ones
            group[name] = _derive(source, means)
            if group[name]["derived"] is not None:
                means[name] = group[name]["derived"]
    return table


def _derive(source: str, means: dict[str, float]) -> dict[str, Any]:
    from harness.scoring.expr import evaluate

    try:
        value = evaluate(source, means)
    except Exception as exc:  # a formula that cannot be computed for this group
        return {"derived": None, "formula": source, "error": f"{type(exc).__name__}: {exc}"}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return {"derived": None, "formula": source, "error": f"not a number: {value!r}"}
    return {"derived": float(value), "formula": source, "error": None}


def metrics_text(table: dict[tuple[Any, ...], dict[str, dict[str, Any]]]) -> str:
    """One line per group: ``suite target t0: accuracy 3/4 (75%), tone 2/2 (100%)``."""
    lines = []
    for key, metrics in table.items():
        suite, target, temperature = key[0], key[1], key[2]
        temp = "tdefault" if temperature is None else f"t{temperature:g}"
        if len(key) > 3 and key[3] not in (None, "default"):  # a prompt variant's label
            suite = f"{suite} {key[3]}"
        shown = ", ".join(_shown(name, m) for name, m in metrics.items())
        lines.append(f"{suite} {target} {temp}: {shown}")
    return "\n".join(lines)


def _shown(name: str, m: dict[str, Any]) -> str:
    if "derived" in m:
        value = m["derived"]
        return f"{name} {value:.3g}" if value is not None else f"{name} n/a ({m['error']})"
    return f"{name} {m['passed']}/{m['total']} ({m['pass_rate']:.0%})"
