"""Per-group statistics over result records: one GroupStats per (suite, prompt variant,
target, temperature).

Pure functions over harness.types.Result; no I/O. Feeds summary.json, the terminal
summary, the HTML report and the gate.

Intervals (95%): with one sample per case, the Wilson score interval. With repeats, the
samples of one case are correlated (same prompt), so treating them as independent would
make the interval too narrow; ``clustered_interval`` then uses a cluster-robust variance
with the cases as clusters, turns it into a design effect and applies Wilson to the
effective sample size (see its docstring).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.types import Result

Z95 = 1.959963984540054

#: (suite, target, temperature, prompt variant label)
GroupKey = tuple[str, str, float | None, str]


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n == 0:
        return (0.0, 1.0)
    return _wilson_p(successes / n, n, z)


@dataclass(frozen=True)
class ClusteredInterval:
    low: float
    high: float
    #: Design effect: clustered variance over the binomial variance, floored at 1.
    design_effect: float
    #: n / design_effect: how many independent samples the clustered ones are worth.
    effective_n: float
    method: str


def clustered_interval(
    clusters: Sequence[tuple[int, int]], z: float = Z95
) -> ClusteredInterval:
    """95% interval for a proportion whose samples come in clusters (cases x repeats).

    ``clusters`` holds (successes, samples) per case. With p = sum(y) / sum(m) over k
    clusters, the cluster-robust (sandwich / ratio-estimator) variance is

        V_cl = k / (k - 1) * sum((y_i - p * m_i) ** 2) / (sum m) ** 2

    and the binomial variance is V_bin = p (1 - p) / n. The design effect
    deff = max(1, V_cl / V_bin) (Kish); Wilson is then applied with the effective sample
    size n / deff and the same p. With every cluster of size 1 this is plain Wilson
    (method "wilson"). deff is floored at 1 so repeats never narrow the interval below
    the independent-samples one; when p is 0 or 1 (no observed variation, V_bin = 0) or
    there is a single cluster, deff is taken as 1 as the variance ratio is undefined.
    """
    k = len(clusters)
    n = sum(m for _, m in clusters)
    successes = sum(y for y, _ in clusters)
    if n == 0:
        return ClusteredInterval(0.0, 1.0, 1.0, 0.0, "wilson")
    if all(m == 1 for _, m in clusters):
        low, high = wilson_interval(successes, n, z)
        return ClusteredInterval(low, high, 1.0, float(n), "wilson")
    p = successes / n
    v_bin = p * (1 - p) / n
    deff = 1.0
    if v_bin > 0 and k > 1:
        v_cl = k / (k - 1) * sum((y - p * m) ** 2 for y, m in clusters) / (n * n)
        deff = max(1.0, v_cl / v_bin)
    n_eff = n / deff
    low, high = _wilson_p(p, n_eff, z)
    return ClusteredInterval(low, high, deff, n_eff, "wilson-clustered")


def _wilson_p(p: float, n: float, z: float) -> tuple[float, float]:
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
    """Statistics of one (suite, prompt variant, target, temperature). Rates count over cells
    that ran (not skipped); errors count against the pass rate. Costs are live-equivalent
    (``cost_if_live_usd``: a replayed answer counts what it cost when it was made) except
    ``cost_usd``, what this run paid. Any unpriced cell makes the live-equivalent costs
    None and ``unpriced`` True: never a partial sum shown as the total."""

    suite: str
    target: str
    temperature: float | None
    #: The prompt variant label ("default" for a one-prompt suite).
    prompt: str = "default"
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
    # -- added by the scoring issue; the fields above keep their names and meaning ----
    #: Distinct cases that ran, and the most samples one of them has (repeats).
    cases: int = 0
    max_repeats: int = 0
    #: "wilson" (one sample per case) or "wilson-clustered" (repeats; see module doc).
    ci_method: str = "wilson"
    pass_rate_design_effect: float | None = None
    pass_rate_effective_n: float | None = None
    schema_valid_design_effect: float | None = None
    ttft_p99_ms: float | None = None
    #: Output tokens per second (decode speed): median and 5th percentile (slow tail).
    tokens_per_s_p50: float | None = None
    tokens_per_s_p5: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    #: Live-equivalent cost of one case (all its repeats) x 1,000 is
    #: cost_per_1k_cases_usd; cost_per_case_usd is the same over one case.
    cost_per_case_usd: float | None = None
    #: Calls whose cost is unknown (model unpriced or no usage returned).
    unpriced_calls: int = 0
    #: Mean retries per call that ran (retry_rate is the share of calls with any retry).
    retries_per_call: float | None = None
    #: Cases whose repeats all failed or errored.
    always_failing_cases: list[str] = field(default_factory=list)

    @property
    def key(self) -> GroupKey:
        return (self.suite, self.target, self.temperature, self.prompt)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_key(r: Result) -> GroupKey:
    return (r.suite, r.target, r.temperature, r.prompt_id)


def summarize(results: Iterable[Result]) -> list[GroupStats]:
    """Aggregate results per (suite, prompt variant, target, temperature), in first-seen
    order."""
    groups: dict[GroupKey, list[Result]] = defaultdict(list)
    for r in results:
        groups[group_key(r)].append(r)
    return [_summarize_group(key, rs) for key, rs in groups.items()]


def _clusters(rs: list[Result], ok: Callable[[Result], bool]) -> list[tuple[int, int]]:
    by_case: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rs:
        counts = by_case[r.case_id]
        counts[0] += ok(r)
        counts[1] += 1
    return [(y, m) for y, m in by_case.values()]


def _summarize_group(key: GroupKey, rs: list[Result]) -> GroupStats:
    g = GroupStats(suite=key[0], target=key[1], temperature=key[2], prompt=key[3], cells=len(rs))
    ran = [r for r in rs if r.status != "skipped"]
    g.skipped = len(rs) - len(ran)
    scored = [r for r in ran if r.status in ("passed", "failed")]
    g.scored = len(scored)
    g.passed = sum(r.passed for r in scored)
    g.errors = sum(r.status == "error" for r in ran)
    g.cached = sum(r.cached for r in ran)
    per_case: dict[str, int] = defaultdict(int)
    for r in ran:
        per_case[r.case_id] += 1
    g.cases = len(per_case)
    g.max_repeats = max(per_case.values(), default=0)
    if ran:
        # Errors count against the pass rate: a provider that fails to answer is not "good".
        g.pass_rate = g.passed / len(ran)
        ci = clustered_interval(_clusters(ran, lambda r: r.status == "passed" and r.passed))
        g.pass_rate_ci = (ci.low, ci.high)
        g.ci_method = ci.method
        g.pass_rate_design_effect = ci.design_effect
        g.pass_rate_effective_n = ci.effective_n
        g.error_rate = g.errors / len(ran)
        g.retries = sum(r.retries for r in ran)
        g.retry_rate = sum(r.retries > 0 for r in ran) / len(ran)
        g.retries_per_call = g.retries / len(ran)
    checked = [r for r in ran if r.schema_valid is not None]
    g.schema_checked = len(checked)
    g.schema_valid = sum(bool(r.schema_valid) for r in checked)
    if checked:
        g.schema_valid_rate = g.schema_valid / len(checked)
        sci = clustered_interval(_clusters(checked, lambda r: bool(r.schema_valid)))
        g.schema_valid_ci = (sci.low, sci.high)
        g.schema_valid_design_effect = sci.design_effect
    lat = [r.latency_ms for r in ran if r.latency_ms is not None]
    g.latency_p50_ms = percentile(lat, 50)
    g.latency_p95_ms = percentile(lat, 95)
    g.latency_p99_ms = percentile(lat, 99)
    ttft = [r.ttft_ms for r in ran if r.ttft_ms is not None]
    g.ttft_p50_ms = percentile(ttft, 50)
    g.ttft_p95_ms = percentile(ttft, 95)
    g.ttft_p99_ms = percentile(ttft, 99)
    tps = [r.tokens_per_s for r in ran if r.tokens_per_s]
    g.tokens_per_s = g.tokens_per_s_p50 = percentile(tps, 50)
    g.tokens_per_s_p5 = percentile(tps, 5)
    answered = [r for r in ran if r.status != "error"]
    g.input_tokens = sum(r.input_tokens or 0 for r in answered)
    g.output_tokens = sum(r.output_tokens or 0 for r in answered)
    g.cached_input_tokens = sum(r.cached_input_tokens or 0 for r in answered)
    g.cost_usd = sum(r.cost_usd or 0.0 for r in ran)
    live_costs = [r.cost_if_live_usd for r in answered]
    g.unpriced_calls = sum(c is None for c in live_costs)
    g.unpriced = g.unpriced_calls > 0
    if live_costs and not g.unpriced:
        total = sum(c for c in live_costs if c is not None)
        g.cost_if_live_usd = total
        g.cost_per_call_usd = total / len(live_costs)
        answered_cases = len({r.case_id for r in answered})
        g.cost_per_case_usd = total / answered_cases
        g.cost_per_1k_cases_usd = g.cost_per_case_usd * 1000
    by_case: dict[str, set[bool]] = defaultdict(set)
    for r in scored:
        by_case[r.case_id].add(r.passed)
    g.flaky_cases = sorted(c for c, outcomes in by_case.items() if len(outcomes) > 1)
    passing_cases = {r.case_id for r in ran if r.status == "passed" and r.passed}
    g.always_failing_cases = sorted(set(per_case) - passing_cases)
    return g
