"""The report's "Metrics" section: named metrics (``metric:``) and ``derived_metrics`` per
group, the figures summary.json and the terminal show (harness.results.named_metrics),
as rows for ``templates/metrics.html.j2``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.report.views import fmt_rate, temp_label
from harness.results.named_metrics import aggregate
from harness.types import DEFAULT_PROMPT_ID, Result


def metric_rows(results: Sequence[Result]) -> list[dict[str, Any]]:
    """One row per (group, metric), in the groups' first-seen order and the metrics' order
    (named ones by name, then derived ones as the suite lists them); empty without any."""
    rows = []
    for key, metrics in aggregate(results).items():
        suite, target, temperature = key[0], key[1], key[2]
        prompt = key[3] if len(key) > 3 and key[3] else DEFAULT_PROMPT_ID
        for name, m in metrics.items():
            row: dict[str, Any] = {"suite": suite, "prompt": prompt, "target": target,
                                   "temperature": temp_label(temperature), "name": name}
            if "derived" in m:
                value = m["derived"]
                row.update(kind="derived", sort=value, value="n/a" if value is None
                           else f"{value:.3g}", detail=m["formula"], error=m["error"])
            else:
                row.update(kind="named", sort=m["pass_rate"], value=fmt_rate(m["pass_rate"]),
                           detail=f"{m['passed']}/{m['total']} passed, mean score "
                                  f"{m['mean']:.3g}", error=None)
            rows.append(row)
    return rows
