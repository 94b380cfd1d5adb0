"""Per-group statistics over result records: one GroupStats per (suite, prompt variant,
target, temperature).

Pure functions over harness.types.Result; no I/O. Feeds summary.json, the terminal
summary, the HTML report and the gate.

Intervals (95%): with one sample per case, the Wilson score interval. With repeats, the
samples of one case are correlated (same prompt), so treating them as independent would
make the interval too narrow; ``clustered_interval`` then takes the case as the unit: a
cluster-robust variance with the cases as clusters, turned into a design effect, and Wilson
applied to the effective sample size, which is never below the number of cases nor above
the number of samples (see its docstring).

Percentiles: one definition everywhere (``percentile``; the runner's loop-lag figures use it
too): linear interpolation between order statistics, Hyndman & Fan type 7, the default of
numpy and R.

Student t: ``t_quantile`` (exact for whole degrees of freedom, no scipy) serves intervals
built on a mean of case differences, which need t rather than z with few cases.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.percentiles import percentile
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

    The case is the unit: ``clusters`` holds (successes, samples) per case. With
    p = sum(y) / sum(m) = y / n over k clusters of mean size m_bar = n / k, the
    cluster-robust (sandwich / ratio-estimator) variance is

        V_cl = k / (k - 1) * (sum((y_i - p * m_i) ** 2) + h) / n ** 2

    where h = 0.5 * (m_bar * max(p, 1 - p)) ** 2 is half a pseudo-case of average size
    whose samples all go against the majority. Without it the sandwich cannot see clustering
    when failures are rare: with 29 cases at 5/5 and one at 4/5 it finds no design effect
    and gives an interval as if 150 independent samples had been drawn, while a suite whose
    failures come a whole case at a time produces such data all the time (at rate 0.95 and
    within-case correlation 0.6 the plain sandwich covers 0.84-0.88; with h, 0.97: see
    tests/test_stats.py). The binomial variance is V_bin = p (1 - p) / n and the design
    effect deff = V_cl / V_bin (Kish), clamped to [1, m_bar]: repeats never make the
    interval narrower than independent samples would, and a case never counts for less
    than one sample. Wilson is then applied with the effective sample size n / deff (so
    between k and n) and the same p.

    With every cluster of size 1 this is plain Wilson (method "wilson"). When every sample
    agrees (p is 0 or 1) there is no variation to estimate a design effect from, and the
    case is the unit: effective n = k, so 30 cases x 5 repeats all passing give about
    (0.886, 1.0), the interval of 30/30 and not of 150/150. A single case is one unit.
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
    m_bar = n / k
    v_bin = p * (1 - p) / n
    if v_bin > 0 and k > 1:
        pseudo = 0.5 * (m_bar * max(p, 1 - p)) ** 2
        v_cl = k / (k - 1) * (sum((y - p * m) ** 2 for y, m in clusters) + pseudo) / (n * n)
        deff = min(max(1.0, v_cl / v_bin), m_bar)
    else:
        deff = m_bar  # no variation seen (or one case): the case is the unit
    n_eff = n / deff
    low, high = _wilson_p(p, n_eff, z)
    return ClusteredInterval(low, high, deff, n_eff, "wilson-clustered")


def _wilson_p(p: float, n: float, z: float) -> tuple[float, float]:
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At p = 0 or 1 the bound on that side is exactly 0 or 1 (rounding would miss it).
    low = 0.0 if p == 0 else max(0.0, centre - half)
    high = 1.0 if p == 1 else min(1.0, centre + half)
    return (low, high)


def student_t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with ``df`` (a whole number >= 1) degrees of freedom.

    Exact closed forms (Abramowitz & Stegun 26.7.3 and 26.7.4): a finite series in
    cos(theta)^2 with theta = atan(t / sqrt(df)); the normal distribution beyond 1,000 df,
    where the two agree to 1e-4 in the quantiles used.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df > 1000:
        return 0.5 * math.erfc(-t / math.sqrt(2))
    theta = math.atan(abs(t) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    s = math.sin(theta)
    if df % 2 == 1:
        total, term = 0.0, 1.0
        for j in range(1, (df - 1) // 2 + 1):  # 1 + 2/3 c2 + (2*4)/(3*5) c2^2 + ...
            total += term
            term *= (2 * j) / (2 * j + 1) * c2
        inside = theta + (s * math.cos(theta) * total if df > 1 else 0.0)
        two_sided = 2 / math.pi * inside
    else:
        total, term = 0.0, 1.0
        for j in range(1, df // 2 + 1):  # 1 + 1/2 c2 + (1*3)/(2*4) c2^2 + ...
            total += term
            term *= (2 * j - 1) / (2 * j) * c2
        two_sided = s * total
    half = 0.5 * min(1.0, two_sided)  # P(|T| <= |t|) / 2
    return 0.5 + half if t >= 0 else 0.5 - half


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (bisection on the cdf)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < p:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if student_t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


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
