"""Named metrics: assertions with ``metric: <name>`` aggregated per group.

Each scored cell's assertions that carry a ``metric`` name (in the result's ``scores``) are
counted per group (harness.stats.group_key: suite, target, temperature, and whatever else
the grouping gains): how many passed, of how many, and the mean score, where a numeric
score value counts as itself and a pass/fail as 1/0. ``finish`` writes them into
summary.json (``metrics`` on a group) and a terminal section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from harness.stats import group_key
from harness.types import Result


def _numeric(score: dict[str, Any]) -> float:
    value = score.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 1.0 if score.get("passed") else 0.0


def aggregate(results: Iterable[Result]) -> dict[tuple[Any, ...], dict[str, dict[str, Any]]]:
    """group key -> metric name -> {passed, total, pass_rate, mean}."""
    sums: dict[tuple[Any, ...], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0, 0.0])
    )
    for r in results:
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
    return {
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


def metrics_text(table: dict[tuple[Any, ...], dict[str, dict[str, Any]]]) -> str:
    """One line per group: ``suite target t0: accuracy 3/4 (75%), tone 2/2 (100%)``."""
    lines = []
    for key, metrics in table.items():
        suite, target, temperature = key[0], key[1], key[2]
        temp = "tdefault" if temperature is None else f"t{temperature:g}"
        shown = ", ".join(
            f"{name} {m['passed']}/{m['total']} ({m['pass_rate']:.0%})"
            for name, m in metrics.items()
        )
        lines.append(f"{suite} {target} {temp}: {shown}")
    return "\n".join(lines)
