"""How each metric of a paired group is measured, tested and decided.

Metrics per group and their verdicts. Every p-value of a comparison (both rates, latency
and cost, every group) goes into one Holm correction; a verdict needs the adjusted p below
alpha AND an effect beyond its threshold:
- pass_rate, schema_valid_rate: paired tests (paired.py); effect at least ``min_effect``;
- latency: each call's latency net of the harness stall that overlapped it (``stall_ms``,
  recorded per call by the runner); per case, the mean log net latency of its repeats;
  sign-flip test on the per-case log ratios; effect: the geometric-mean ratio beyond
  ``latency_tolerance`` and the typical latency moved by more than ``latency_slack_ms``.
  Cells whose stall exceeds STALL_SHARE of their latency (and the slack) are left out and
  counted;
- cost_per_call: a call's cost is its token counts times fixed prices, so the noise in a
  cost change is in the tokens: the test is the sign-flip test on per-case log ratios of
  tokens (input + output), the effect the cost ratio beyond ``cost_tolerance``. The price
  ratio (``_price_ratio``: the same tokens at both runs' prices) is deterministic, not
  tested: beyond the tolerance on its own it is a verdict;
- pass_rate_floor: the current run's pass rate against ``min_pass_rate`` (absolute, per suite).

Each rate metric also says the smallest change its test could flag at all (``detectable``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from harness.gate.baseline import CellOutcome
from harness.gate.comparison import (
    RATE_METRICS,
    TESTED_METRICS,
    Comparison,
    MetricResult,
    Verdict,
)
from harness.gate.paired import (
    CaseCounts,
    RatioTest,
    holm,
    mcnemar_exact,
    mean_diff_interval,
    min_flaggable_cases,
    newcombe_paired_interval,
    paired_log_ratio,
    sign_flip_test,
)
from harness.gate.settings import GateSettings

#: A cell whose overlapping harness stall exceeds this share of its latency is left out of
#: the latency test: its net latency (latency less stall) would rest more on the stall
#: estimate (under-counted by up to one 10 ms watcher interval per stall) than on the
#: measurement. Below it, the stall is taken out of the latency instead: on a loaded machine
#: nearly every call carries some stall, and leaving them all out (as a 10% share did) left
#: the gate blind to a real +300 ms change.
STALL_SHARE = 0.5


def rate_metric(name: str, counts: Sequence[CaseCounts], settings: GateSettings) -> MetricResult:
    m = MetricResult(metric=name, verdict=Verdict.NOT_COMPARABLE, threshold=settings.min_effect)
    m.cases = len(counts)
    m.samples_before = sum(cc.n_before for cc in counts)
    m.samples_after = sum(cc.n_after for cc in counts)
    if not counts:
        m.reason = "no paired cases" if name == "pass_rate" else "no schema checks in one run"
        return m
    m.before = sum(cc.hits_before for cc in counts) / m.samples_before
    m.after = sum(cc.hits_after for cc in counts) / m.samples_after
    if all(cc.single for cc in counts):
        b = sum(1 for cc in counts if cc.hits_before and not cc.hits_after)
        c = sum(1 for cc in counts if cc.hits_after and not cc.hits_before)
        a = sum(1 for cc in counts if cc.hits_before and cc.hits_after)
        d = len(counts) - a - b - c
        m.b, m.c = b, c
        m.change = (c - b) / len(counts)
        m.interval = newcombe_paired_interval(a, b, c, d)
        m.test = "McNemar exact"
        m.p_value = mcnemar_exact(b, c)
    else:
        # Several samples per case: the case is the unit (repeats are not independent).
        m.change = sum(cc.diff for cc in counts) / len(counts)
        m.interval = mean_diff_interval(counts)
        m.worse = sum(1 for cc in counts if cc.diff < 0)
        m.better = sum(1 for cc in counts if cc.diff > 0)
        flip = sign_flip_test(counts)
        m.test = "sign-flip exact" if flip.method == "exact" else "sign-flip normal approx."
        m.p_value = flip.p_value
    if len(counts) < settings.min_cases:
        m.reason = f"{len(counts)} paired cases < min_cases {settings.min_cases}"
        m.p_value = None
    return m


def decide(comparison: Comparison, settings: GateSettings) -> None:
    """One Holm correction over every tested metric of the comparison, then the verdicts."""
    tested = [
        m
        for g in comparison.groups
        for m in g.metrics
        if m.metric in TESTED_METRICS and m.p_value is not None
    ]
    p_values = [m.p_value for m in tested if m.p_value is not None]
    adjusted = holm(p_values) if settings.correction == "holm" else list(p_values)
    for m, p_adj in zip(tested, adjusted, strict=True):
        m.p_adjusted = p_adj
        if m.metric in RATE_METRICS:
            _decide_rate(m, p_adj, settings)
        elif m.metric == "latency":
            _decide_latency(m, p_adj, settings)
        else:
            _decide_cost(m, p_adj, settings)
    m_tests = len(tested)
    for g in comparison.groups:
        for m in g.metrics:
            if m.metric in RATE_METRICS and m.cases:
                _detectable(m, settings, m_tests)


def _significant(p_adj: float, settings: GateSettings) -> str | None:
    """The reason a test is not significant, or None when it is."""
    if p_adj >= settings.alpha:
        return f"p {_p(p_adj)} >= alpha {settings.alpha:g}"
    return None


def _decide_rate(m: MetricResult, p_adj: float, settings: GateSettings) -> None:
    assert m.change is not None
    m.verdict = Verdict.NO_CHANGE
    reason = _significant(p_adj, settings)
    if reason:
        m.reason = reason
    elif abs(m.change) < settings.min_effect:
        m.reason = (
            f"change {m.change * 100:+.1f} pts is below min_effect "
            f"{settings.min_effect * 100:g} pts"
        )
    else:
        m.verdict = Verdict.REGRESSION if m.change < 0 else Verdict.IMPROVEMENT
        m.reason = f"{m.change * 100:+.1f} pts, p {_p(p_adj)} < alpha {settings.alpha:g}"


def _decide_latency(m: MetricResult, p_adj: float, settings: GateSettings) -> None:
    assert m.change is not None and m.before is not None and m.after is not None
    tol, slack = settings.latency_tolerance, settings.latency_slack_ms
    m.verdict = Verdict.NO_CHANGE
    shift = f"x{m.change:.2f} ({m.after - m.before:+,.0f} ms)"
    reason = _significant(p_adj, settings)
    if reason:
        m.reason = f"{shift}, {reason}"
    elif m.change > tol and m.after - m.before > slack:
        m.verdict = Verdict.REGRESSION
        m.reason = f"{shift} > tolerance x{tol:g}, p {_p(p_adj)} < alpha {settings.alpha:g}"
    elif m.change < 1 / tol and m.before - m.after > slack:
        m.verdict = Verdict.IMPROVEMENT
        m.reason = f"{shift} < x{1 / tol:.2f}, p {_p(p_adj)} < alpha {settings.alpha:g}"
    else:
        m.reason = f"{shift} is significant but within tolerance x{tol:g} (+{slack:g} ms slack)"
    m.reason += _stall_note(m)


def _decide_cost(m: MetricResult, p_adj: float, settings: GateSettings) -> None:
    assert m.change is not None
    tol = settings.cost_tolerance
    m.verdict = Verdict.NO_CHANGE
    what = "tokens" if m.tokens_ratio is not None else "cost"
    reason = _significant(p_adj, settings)
    if reason:
        m.reason = f"cost per call x{m.change:.2f}; {what} change not significant ({reason})"
    elif m.change > tol:
        m.verdict = Verdict.REGRESSION
        m.reason = (
            f"cost per call x{m.change:.2f} > tolerance x{tol:g}; {what} rose, "
            f"p {_p(p_adj)} < alpha {settings.alpha:g}"
        )
    elif m.change < 1 / tol:
        m.verdict = Verdict.IMPROVEMENT
        m.reason = (
            f"cost per call x{m.change:.2f} < x{1 / tol:.2f}; {what} fell, "
            f"p {_p(p_adj)} < alpha {settings.alpha:g}"
        )
    else:
        m.reason = f"cost per call x{m.change:.2f} within tolerance x{tol:g}"


def _detectable(m: MetricResult, settings: GateSettings, tests: int) -> None:
    """The smallest change in the rate the test could flag if it were the only change.

    A lone change must clear alpha / (number of tests) under Holm (alpha without a
    correction), and then ``min_flaggable_cases`` cases must all move the same way; with
    repeats the smallest move of a case is one sample of its repeats. The figure is the
    best case (every other case unchanged); noise in other cases only raises it."""
    level = settings.alpha / max(1, tests) if settings.correction == "holm" else settings.alpha
    need = min_flaggable_cases(level)
    m.detectable_cases = need
    if need > m.cases:
        m.detectable = None
        return
    repeats = max(1.0, m.samples_after / m.cases)
    m.detectable = max(need / m.cases / repeats, settings.min_effect)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def _stall_note(m: MetricResult) -> str:
    left_out = m.stalled_before + m.stalled_after
    if not left_out:
        return ""
    return (
        f"; {left_out} cell(s) left out for a harness stall over {STALL_SHARE:.0%} of "
        f"their latency and the slack ({m.stalled_before} before, {m.stalled_after} after)"
    )


def _stalled(x: CellOutcome, slack_ms: float) -> bool:
    """A stall over STALL_SHARE of the call's latency, and over the slack: a stall shorter
    than ``latency_slack_ms`` cannot move a latency by a verdict's worth on its own, and
    leaving it out would throw away every fast (cached or simulated) call's timing."""
    # stall_ms is absent from records made before it existed: no known stall.
    stall = x.stall_ms or 0.0
    return x.latency_ms is not None and stall > max(STALL_SHARE * x.latency_ms, slack_ms)


def _net_latency(x: CellOutcome) -> float:
    """The call's latency less the harness stall inside it: what the provider and the
    network took. Positive for every cell that is not left out (stall <= STALL_SHARE)."""
    latency = x.latency_ms or 0.0
    return max(latency - (x.stall_ms or 0.0), (1.0 - STALL_SHARE) * latency)


def _ratio_fields(m: MetricResult, test: RatioTest) -> None:
    m.cases = test.cases
    m.interval = test.interval
    m.worse, m.better = test.worse, test.better
    m.p_value = test.p_value
    m.test = "sign-flip exact" if test.method == "exact" else "sign-flip Monte Carlo"


Pairs = list[tuple[list[CellOutcome], list[CellOutcome]]]


def latency_metric(pairs: Pairs, settings: GateSettings) -> MetricResult:
    """Per-case paired test on log latency (see the module docstring)."""
    m = MetricResult(
        metric="latency", verdict=Verdict.NOT_COMPARABLE, threshold=settings.latency_tolerance
    )
    samples: list[tuple[list[float], list[float]]] = []
    for before, after in pairs:
        sides = []
        for side, cells in (("before", before), ("after", after)):
            timed = [x for x in cells if x.status != "error" and x.latency_ms is not None]
            kept = [x for x in timed if not _stalled(x, settings.latency_slack_ms)]
            if side == "before":
                m.stalled_before += len(timed) - len(kept)
                m.samples_before += len(kept)
            else:
                m.stalled_after += len(timed) - len(kept)
                m.samples_after += len(kept)
            sides.append([_net_latency(x) for x in kept])
        samples.append((sides[0], sides[1]))
    test = paired_log_ratio(samples)
    if test is None or test.cases < settings.min_cases:
        found = 0 if test is None else test.cases
        m.cases = found
        m.reason = (
            f"{found} cases timed in both runs < min_cases {settings.min_cases}" + _stall_note(m)
        )
        return m
    _ratio_fields(m, test)
    m.before, m.after, m.change = test.before, test.after, test.ratio
    return m


def _tokens(x: CellOutcome) -> int | None:
    if x.input_tokens is None or x.output_tokens is None:
        return None
    return x.input_tokens + x.output_tokens


#: Price ratios this close to 1 are "unchanged": baselines keep costs to 6 significant
#: digits, and no provider changes a price by a tenth of a percent.
PRICE_EPSILON = 1e-3


def _price_ratio(before: list[CellOutcome], after: list[CellOutcome]) -> float:
    """What this run's tokens cost at this run's prices over what they cost at the
    baseline's: a price index with the token mix held fixed, so not a random quantity.

    Each run's per-token prices (input, output) are recovered from its cells by least
    squares on cost = p_in * input_tokens + p_out * output_tokens, exact when the price is
    linear in the tokens (a cache-read discount or a long-context tier makes it an
    approximation)."""

    def prices(cells: list[CellOutcome]) -> np.ndarray:
        design = np.array([[x.input_tokens or 0, x.output_tokens or 0] for x in cells], float)
        costs = np.array([x.cost or 0.0 for x in cells], float)
        fitted, *_ = np.linalg.lstsq(design, costs, rcond=None)
        return np.asarray(fitted, dtype=float)

    tokens = np.array([[x.input_tokens or 0, x.output_tokens or 0] for x in after], float)
    now = float((tokens @ prices(after)).sum())
    then = float((tokens @ prices(before)).sum())
    if then <= 0 or now <= 0:
        return 1.0
    ratio = now / then
    return 1.0 if abs(ratio - 1) < PRICE_EPSILON else ratio


def cost_metric(pairs: Pairs, settings: GateSettings) -> MetricResult:
    """Mean cost per answered call; its noise tested on the token counts (module docstring)."""
    tol = settings.cost_tolerance
    m = MetricResult(metric="cost_per_call", verdict=Verdict.NOT_COMPARABLE, threshold=tol)
    answered = [
        ([x for x in b if x.status != "error"], [x for x in a if x.status != "error"])
        for b, a in pairs
    ]
    answered = [(b, a) for b, a in answered if b and a]
    cells_b = [x for b, _ in answered for x in b]
    cells_a = [x for _, a in answered for x in a]
    m.samples_before, m.samples_after = len(cells_b), len(cells_a)
    m.cases = len(answered)
    if m.cases < settings.min_cases:
        m.reason = f"{m.cases} cases answered in both runs < min_cases {settings.min_cases}"
        return m
    if any(x.cost is None for x in cells_b + cells_a):
        m.reason = "unpriced: no price for this target in one run"
        return m
    m.before = math.fsum(x.cost or 0.0 for x in cells_b) / len(cells_b)
    m.after = math.fsum(x.cost or 0.0 for x in cells_a) / len(cells_a)
    if m.before == 0 or m.after == 0:
        if m.before == m.after:
            m.change, m.verdict, m.reason = 1.0, Verdict.NO_CHANGE, "free in both runs"
        elif m.before == 0:
            m.change, m.verdict = math.inf, Verdict.REGRESSION
            m.reason = "cost per call rose from 0"
        else:
            m.change, m.verdict, m.reason = 0.0, Verdict.IMPROVEMENT, "cost per call fell to 0"
        m.test = "deterministic"
        return m
    m.change = m.after / m.before
    if all(_tokens(x) for x in cells_b + cells_a):
        m.price_ratio = _price_ratio(cells_b, cells_a)
        test = paired_log_ratio(
            [([_tokens(x) or 0 for x in b], [_tokens(x) or 0 for x in a]) for b, a in answered]
        )
        assert test is not None
        m.tokens_ratio = test.ratio
        _ratio_fields(m, test)
        m.test = f"tokens {m.test}"
        if m.price_ratio > tol or m.price_ratio < 1 / tol:
            m.verdict = Verdict.REGRESSION if m.price_ratio > 1 else Verdict.IMPROVEMENT
            m.reason = (
                f"price per token x{m.price_ratio:.2f} beyond tolerance x{tol:g} "
                "(deterministic: the prices, not sampling)"
            )
            m.p_value = None  # decided without a test: not part of the Holm family
        return m
    # A baseline without token counts (written before they were kept): at fixed prices a
    # call's cost is its price-weighted tokens, so the per-case cost ratios are tested.
    test = paired_log_ratio(
        [([x.cost or 0.0 for x in b], [x.cost or 0.0 for x in a]) for b, a in answered]
    )
    assert test is not None
    _ratio_fields(m, test)
    m.test = f"cost {m.test} (no token counts)"
    return m


def floor_metric(
    suite: str, cases: dict[str, list[CellOutcome]], settings: GateSettings
) -> MetricResult | None:
    floor = settings.floor_for(suite)
    if floor is None:
        return None
    cells = [x for xs in cases.values() for x in xs]
    m = MetricResult(metric="pass_rate_floor", verdict=Verdict.OK, threshold=floor, test="floor")
    m.cases = len(cases)
    m.samples_after = len(cells)
    if not cells:
        m.verdict = Verdict.NOT_COMPARABLE
        m.reason = "no cells ran"
        return m
    m.after = sum(x.passed for x in cells) / len(cells)
    if m.after < floor:
        m.verdict = Verdict.REGRESSION
        m.reason = f"pass rate {m.after * 100:.1f}% below the floor {floor * 100:g}%"
    else:
        m.reason = f"pass rate {m.after * 100:.1f}% meets the floor {floor * 100:g}%"
    return m
