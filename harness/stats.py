"""Per-group statistics over result records: one GroupStats per (suite, target, temperature).

Pure functions over harness.types.Result; no I/O. Feeds summary.json, the terminal
summary, the HTML report and the gate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.types import Result

Z95 = 1.959963984540054

GroupKey = tuple[str, str, float | None]


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class GroupStats:
    suite: str
    target: str
    temperature: float | None
    cells: int = 0
    scored: int = 0
    passed: int = 0
    errors: int = 0
    skipped: int = 0
    cached: int = 0
    pass_rate: float | None = None
    pass_rate_ci: tuple[float, float] | None = None
    schema_checked: int = 0
    schema_valid: int = 0
    schema_valid_rate: float | None = None
    schema_valid_ci: tuple[float, float] | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    tokens_per_s: float | None = None
    cost_usd: float = 0.0
    cost_if_live_usd: float | None = None
    cost_per_call_usd: float | None = None
    cost_per_1k_cases_usd: float | None = None
    unpriced: bool = False
    retries: int = 0
    retry_rate: float | None = None
    error_rate: float | None = None
    flaky_cases: list[str] = field(default_factory=list)

    @property
    def key(self) -> GroupKey:
        return (self.suite, self.target, self.temperature)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_key(r: Result) -> GroupKey:
    return (r.suite, r.target, r.temperature)


def summarize(results: Iterable[Result]) -> list[GroupStats]:
    """Aggregate results per (suite, target, temperature), in first-seen order."""
    groups: dict[GroupKey, list[Result]] = defaultdict(list)
    for r in results:
        groups[group_key(r)].append(r)
    return [_summarize_group(key, rs) for key, rs in groups.items()]


def _summarize_group(key: GroupKey, rs: list[Result]) -> GroupStats:
    g = GroupStats(suite=key[0], target=key[1], temperature=key[2], cells=len(rs))
    ran = [r for r in rs if r.status != "skipped"]
    g.skipped = len(rs) - len(ran)
    scored = [r for r in ran if r.status in ("passed", "failed")]
    g.scored = len(scored)
    g.passed = sum(r.passed for r in scored)
    g.errors = sum(r.status == "error" for r in ran)
    g.cached = sum(r.cached for r in ran)
    if ran:
        # Errors count against the pass rate: a provider that fails to answer is not "good".
        g.pass_rate = g.passed / len(ran)
        g.pass_rate_ci = wilson_interval(g.passed, len(ran))
        g.error_rate = g.errors / len(ran)
        g.retries = sum(r.retries for r in ran)
        g.retry_rate = sum(r.retries > 0 for r in ran) / len(ran)
    checked = [r for r in ran if r.schema_valid is not None]
    g.schema_checked = len(checked)
    g.schema_valid = sum(bool(r.schema_valid) for r in checked)
    if checked:
        g.schema_valid_rate = g.schema_valid / len(checked)
        g.schema_valid_ci = wilson_interval(g.schema_valid, len(checked))
    lat = [r.latency_ms for r in ran if r.latency_ms is not None]
    g.latency_p50_ms = percentile(lat, 50)
    g.latency_p95_ms = percentile(lat, 95)
    g.latency_p99_ms = percentile(lat, 99)
    ttft = [r.ttft_ms for r in ran if r.ttft_ms is not None]
    g.ttft_p50_ms = percentile(ttft, 50)
    g.ttft_p95_ms = percentile(ttft, 95)
    tps = [r.tokens_per_s for r in ran if r.tokens_per_s]
    g.tokens_per_s = percentile(tps, 50)
    g.cost_usd = sum(r.cost_usd or 0.0 for r in ran)
    live_costs = [r.cost_if_live_usd for r in ran if r.status != "error"]
    g.unpriced = any(c is None for c in live_costs)
    if live_costs and not g.unpriced:
        total = sum(c for c in live_costs if c is not None)
        g.cost_if_live_usd = total
        g.cost_per_call_usd = total / len(live_costs)
        g.cost_per_1k_cases_usd = g.cost_per_call_usd * 1000
    by_case: dict[str, set[bool]] = defaultdict(set)
    for r in scored:
        by_case[r.case_id].add(r.passed)
    g.flaky_cases = sorted(c for c, outcomes in by_case.items() if len(outcomes) > 1)
    return g
