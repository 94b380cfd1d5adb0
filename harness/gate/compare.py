"""Compare a run with a baseline: paired tests per (suite, prompt, target, temperature).

A cell pairs with the baseline cell of the same (suite, case, prompt variant label, target,
temperature, repeat) while its *test* is unchanged (test fingerprint: vars, assertions,
schema, threshold, tools); a case whose test changed is "not comparable", never
"regressed". A changed *prompt* (rendered messages, generation settings) is compared - that
is the question a prompt edit asks - and the group says "prompt changed" with the first
changed lines of the rendered prompt. A version-1 baseline has one fingerprint for both, so
with it any prompt change still makes the case not comparable.
Skipped cells are left out on both sides; errors count as failures (as in stats.py).

Flaky cases (mixed outcomes across repeats) are flagged for either run; they enter the tests
like every case, so they can only produce a verdict through a significant change.

How each metric is tested and decided: verdicts.py. What the comparison holds:
comparison.py (its names are importable from here too).
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from harness.gate.baseline import Baseline, CellOutcome, baseline_from_results
from harness.gate.comparison import (
    RATE_METRICS,
    TESTED_METRICS,
    V1_REASON,
    Comparison,
    GroupComparison,
    GroupKey,
    MetricResult,
    Verdict,
)
from harness.gate.paired import CaseCounts
from harness.gate.settings import GateSettings
from harness.gate.verdicts import (
    STALL_SHARE,
    cost_metric,
    decide,
    floor_metric,
    latency_metric,
    rate_metric,
)
from harness.types import Result

__all__ = [
    "RATE_METRICS",
    "STALL_SHARE",
    "TESTED_METRICS",
    "V1_REASON",
    "Comparison",
    "GroupComparison",
    "MetricResult",
    "Verdict",
    "compare",
    "compare_baselines",
    "prompt_diff",
    "template_diff",
]


def compare(
    baseline: Baseline,
    results: list[Result],
    settings: GateSettings,
    prompts: list[dict[str, Any]] | None = None,
) -> Comparison:
    """Compare this run's results with a baseline (``prompts``: see baseline_from_results)."""
    run_ids = sorted({r.run_id for r in results if r.run_id})
    label = "this run" + (f" ({', '.join(run_ids)})" if run_ids else "")
    current = baseline_from_results(results, source=label, prompts=prompts)
    return compare_baselines(baseline, current, settings)


def _by_group(cells: Iterable[CellOutcome]) -> dict[GroupKey, dict[str, list[CellOutcome]]]:
    out: dict[GroupKey, dict[str, list[CellOutcome]]] = defaultdict(lambda: defaultdict(list))
    for c in cells:
        if c.status != "skipped":
            out[c.group][c.case].append(c)
    return out


def _group_order(key: GroupKey) -> tuple[str, str, str, float]:
    suite, target, temp, prompt = key
    return (suite, prompt, target, -math.inf if temp is None else temp)


def compare_baselines(before: Baseline, after: Baseline, settings: GateSettings) -> Comparison:
    """Compare two outcome sets (a baseline file, or stored runs turned into baselines)."""
    old = _by_group(before.cells)
    new = _by_group(after.cells)
    comparison = Comparison(baseline=before.label, current=after.label, settings=settings)
    for key in sorted(set(old) | set(new), key=_group_order):
        g = GroupComparison(*key)
        if key not in new:
            g.status = "missing"
            g.removed_cases = sorted(old[key])
        else:
            if key not in old:
                g.status = "new"
                g.added_cases = sorted(new[key])
            else:
                _compare_group(g, old[key], new[key], settings)
                if g.prompt_changed:
                    g.prompt_diff = prompt_diff(before, after, g.suite, g.prompt)
            floor = floor_metric(g.suite, new[key], settings)
            if floor is not None:
                g.metrics.append(floor)
        comparison.groups.append(g)
    decide(comparison, settings)
    return comparison


def _flaky(cases: dict[str, list[CellOutcome]]) -> list[str]:
    return sorted(c for c, cells in cases.items() if len({x.passed for x in cells}) > 1)


def _compare_group(
    g: GroupComparison,
    old: dict[str, list[CellOutcome]],
    new: dict[str, list[CellOutcome]],
    settings: GateSettings,
) -> None:
    common = set(old) & set(new)
    g.added_cases = sorted(set(new) - set(old))
    g.removed_cases = sorted(set(old) - set(new))
    for case in sorted(common):
        test_old = {c.test_fingerprint for c in old[case] if c.test_fingerprint}
        test_new = {c.test_fingerprint for c in new[case] if c.test_fingerprint}
        if test_old and test_new:
            if test_old != test_new:
                g.not_comparable_cases.append(case)
                continue
            prompt_old = {c.prompt_fingerprint for c in old[case] if c.prompt_fingerprint}
            prompt_new = {c.prompt_fingerprint for c in new[case] if c.prompt_fingerprint}
            if prompt_old and prompt_new and prompt_old != prompt_new:
                g.prompt_changed_cases.append(case)
            continue
        # A version-1 baseline (or records from before the split): one fingerprint.
        fps_old = {c.fingerprint for c in old[case] if c.fingerprint}
        fps_new = {c.fingerprint for c in new[case] if c.fingerprint}
        if fps_old and fps_new and fps_old != fps_new:
            g.not_comparable_cases.append(case)
            g.not_comparable_reason = V1_REASON
    paired = sorted(common - set(g.not_comparable_cases))
    g.paired_cases = len(paired)
    g.flaky_before = _flaky({c: old[c] for c in paired})
    g.flaky_after = _flaky({c: new[c] for c in paired})
    before = {c: old[c] for c in paired}
    after = {c: new[c] for c in paired}

    pass_counts = [
        CaseCounts(
            c,
            sum(x.passed for x in before[c]),
            len(before[c]),
            sum(x.passed for x in after[c]),
            len(after[c]),
        )
        for c in paired
    ]
    g.worse_cases = [cc.case for cc in pass_counts if cc.diff < 0]
    g.better_cases = [cc.case for cc in pass_counts if cc.diff > 0]
    g.metrics.append(rate_metric("pass_rate", pass_counts, settings))

    schema_counts = []
    any_schema = False
    for c in paired:
        sb = [x.schema_valid for x in before[c] if x.schema_valid is not None]
        sa = [x.schema_valid for x in after[c] if x.schema_valid is not None]
        any_schema = any_schema or bool(sb) or bool(sa)
        if sb and sa:
            schema_counts.append(CaseCounts(c, sum(sb), len(sb), sum(sa), len(sa)))
    if any_schema:
        g.metrics.append(rate_metric("schema_valid_rate", schema_counts, settings))

    pairs = [(before[c], after[c]) for c in paired]
    g.metrics.append(latency_metric(pairs, settings))
    g.metrics.append(cost_metric(pairs, settings))


def prompt_diff(before: Baseline, after: Baseline, suite: str, prompt: str) -> list[str]:
    """The first changed lines between the two sides' rendered prompts of one variant (the
    same case on both sides, so what differs is the template)."""
    old = next((p for p in before.prompts if (p["suite"], p["prompt"]) == (suite, prompt)), None)
    if old is None:
        return []
    new = next(
        (
            p
            for p in after.prompts
            if (p["suite"], p["prompt"], p["case"]) == (suite, prompt, old["case"])
        ),
        None,
    )
    if new is None:
        return []
    return template_diff(old["messages"], new["messages"])


def template_diff(
    old: Sequence[Sequence[str]], new: Sequence[Sequence[str]], max_lines: int = 6
) -> list[str]:
    """``-``/``+`` lines of what changed between two message lists, at most ``max_lines``."""

    def lines(messages: Sequence[Sequence[str]]) -> list[str]:
        return [f"{role}: {line}" for role, text in messages for line in text.splitlines()]

    out = [
        f"{line[0]} {line[1:]}".rstrip()
        for line in difflib.unified_diff(lines(old), lines(new), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    if len(out) > max_lines:
        out = [*out[:max_lines], f"... ({len(out) - max_lines} more changed lines)"]
    return [line if len(line) <= 160 else line[:157] + "..." for line in out]
