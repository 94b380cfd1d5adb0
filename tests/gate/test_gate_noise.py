"""The gate's latency and cost verdicts under noise: false alarms held at alpha, real shifts
found, stalled cells left out, the token and price parts of a cost change told apart."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from harness.gate import GateSettings, Verdict, render_text
from harness.gate.baseline import Baseline, CellOutcome
from harness.gate.compare import STALL_SHARE, Comparison, compare_baselines

ALPHA = 0.05
#: Only the tests decide: no tolerance, no slack, no minimum effect. The strictest gate, so
#: a false-alarm rate held here is held with any tolerance.
BARE = GateSettings(
    alpha=ALPHA, min_effect=0.0, latency_tolerance=1.0, latency_slack_ms=0.0, cost_tolerance=1.0
)


@dataclass
class Suite:
    """What does not change between two runs of one suite on one provider: per group and
    case, a typical latency (lognormal across cases), a pass rate and a mean output length."""

    median_ms: np.ndarray  # (groups, cases)
    pass_rate: np.ndarray
    tokens: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, groups: int = 5, cases: int = 30) -> Suite:
        shape = (groups, cases)
        return cls(
            np.exp(rng.normal(6.5, 0.6, shape)),  # ~665 ms typical, cases differ a lot
            rng.uniform(0.5, 1.0, shape),
            rng.uniform(20, 300, shape),
        )


def run_cells(
    rng: np.random.Generator,
    suite: Suite,
    repeats: int = 1,
    shift_ms: float = 0.0,
    spread: float = 0.35,
    stall_ms: np.ndarray | None = None,
) -> list[CellOutcome]:
    """One run: every call's latency is its case's typical one times lognormal noise (plus
    ``shift_ms``), outcomes and output tokens drawn around the case's rate and length."""
    groups, cases = suite.median_ms.shape
    shape = (groups, cases, repeats)
    latency = suite.median_ms[..., None] * np.exp(rng.normal(0, spread, shape)) + shift_ms
    passed = rng.random(shape) < suite.pass_rate[..., None]
    out = rng.poisson(suite.tokens[..., None], shape) + 1
    stall = np.zeros(shape) if stall_ms is None else stall_ms
    return [
        CellOutcome(
            suite="s",
            case=f"c{c}",
            target=f"p:m{g}",
            temperature=0.0,
            repeat=r,
            status="passed" if passed[g, c, r] else "failed",
            passed=bool(passed[g, c, r]),
            latency_ms=float(latency[g, c, r]),
            # $1/M input, $4/M output: the price is fixed, the tokens vary
            cost=(50 + 4 * int(out[g, c, r])) * 1e-6,
            fingerprint=f"fp{c}",
            input_tokens=50,
            output_tokens=int(out[g, c, r]),
            stall_ms=float(stall[g, c, r]),
        )
        for g in range(groups)
        for c in range(cases)
        for r in range(repeats)
    ]


def judge(before: list[CellOutcome], after: list[CellOutcome], settings: GateSettings) -> Comparison:
    return compare_baselines(Baseline(before, source="base"), Baseline(after), settings)


def false_alarms(comparisons: int, settings: GateSettings, seed: int, **kw: float) -> float:
    rng = np.random.default_rng(seed)
    flagged = 0
    for _ in range(comparisons):
        suite = Suite.draw(rng)
        comparison = judge(run_cells(rng, suite, **kw), run_cells(rng, suite, **kw), settings)
        flagged += comparison.has_regression
    return flagged / comparisons


def mc_bound(rate: float, n: int) -> float:
    """rate plus 2.33 standard errors of a share estimated from n trials (one-sided 99%)."""
    return rate + 2.33 * (rate * (1 - rate) / n) ** 0.5


def test_500_null_comparisons_keep_any_regression_at_alpha() -> None:
    # Identical latency (lognormal), pass-rate and token distributions; 5 groups, 30 cases:
    # 15 tests per comparison (pass rate, latency, tokens) under one Holm correction, and
    # no tolerance to hide behind. (2.4 s of CPU; wall time depends on the machine's load.)
    rate = false_alarms(500, BARE, seed=13)
    assert rate <= mc_bound(ALPHA, 500)


def test_null_with_wider_spread_and_repeats_keeps_alpha() -> None:
    # The p95-ratio rule this replaces flagged 21% with a wider spread.
    rate = false_alarms(150, BARE, seed=14, spread=0.9, repeats=2)
    assert rate <= mc_bound(ALPHA, 150)


def test_a_single_latency_test_is_not_needlessly_conservative() -> None:
    # Without Holm and with one group, the sign-flip test rejects about alpha of the time:
    # it holds its level by being right, not by never firing.
    rng = np.random.default_rng(5)
    settings = GateSettings(alpha=0.1, latency_tolerance=1.0, latency_slack_ms=0.0,
                            correction="none")
    fired = 0
    trials = 400
    for _ in range(trials):
        suite = Suite.draw(rng, groups=1)
        comparison = judge(run_cells(rng, suite), run_cells(rng, suite), settings)
        m = comparison.groups[0].metric("latency")
        assert m is not None and m.p_value is not None
        fired += m.p_value < 0.1
    assert 0.1 - 0.05 <= fired / trials <= mc_bound(0.1, trials)


def test_a_300_ms_shift_on_30_cases_is_a_regression() -> None:
    rng = np.random.default_rng(21)
    suite = Suite.draw(rng, groups=1)
    suite.median_ms[:] = np.exp(rng.normal(6.7, 0.3, suite.median_ms.shape))  # ~800 ms
    comparison = judge(
        run_cells(rng, suite), run_cells(rng, suite, shift_ms=300.0), GateSettings()
    )
    m = comparison.groups[0].metric("latency")
    assert m is not None
    assert m.verdict is Verdict.REGRESSION, m.reason
    assert m.cases == 30 and m.change is not None and m.change > 1.25
    assert m.interval is not None and m.interval[0] > 1.0
    assert "latency" in render_text(comparison).split("gate: ")[-1]


def test_shift_within_tolerance_is_significant_but_no_regression() -> None:
    rng = np.random.default_rng(22)
    suite = Suite.draw(rng, groups=1)
    # +60 ms on ~665 ms with little noise and 3 repeats: a real shift, and a small one.
    comparison = judge(
        run_cells(rng, suite, repeats=3, spread=0.1),
        run_cells(rng, suite, repeats=3, spread=0.1, shift_ms=60.0),
        GateSettings(),
    )
    m = comparison.groups[0].metric("latency")
    assert m is not None and m.p_adjusted is not None
    assert m.p_adjusted < ALPHA and m.verdict is Verdict.NO_CHANGE
    assert "within tolerance" in m.reason


def test_stalled_cells_are_left_out_and_counted() -> None:
    rng = np.random.default_rng(23)
    suite = Suite.draw(rng, groups=1)
    before = run_cells(rng, suite)
    # This run's harness stalled for 2 s during the calls of 12 cases: their latencies are
    # inflated by the stall, which the runner recorded per call.
    stall = np.zeros((1, 30, 1))
    stall[0, :12, 0] = 2000.0
    after = run_cells(rng, suite, shift_ms=0.0, stall_ms=stall)
    after = [
        CellOutcome(**{**x.__dict__, "latency_ms": (x.latency_ms or 0) + (x.stall_ms or 0)})
        for x in after
    ]
    m = judge(before, after, GateSettings()).groups[0].metric("latency")
    assert m is not None
    assert (m.stalled_before, m.stalled_after) == (0, 12)
    assert m.cases == 18 and m.verdict is Verdict.NO_CHANGE
    assert "12 cell(s) left out for a harness stall" in m.reason
    # Counted as stalled only when large against the call, even with no slack.
    share = 0.9 * STALL_SHARE * min(x.latency_ms or 0 for x in before)
    small = [CellOutcome(**{**x.__dict__, "stall_ms": share}) for x in before]
    m2 = judge(before, small, GateSettings(latency_slack_ms=0)).groups[0].metric("latency")
    assert m2 is not None and m2.stalled_after == 0
    large = [CellOutcome(**{**x.__dict__, "stall_ms": 1.2 * share / 0.9}) for x in before]
    m5 = judge(before, large, GateSettings(latency_slack_ms=0)).groups[0].metric("latency")
    assert m5 is not None and m5.stalled_after >= 1
    # ... nor when within the slack: 8 ms on a 2 ms (cached or simulated) call.
    fast = [CellOutcome(**{**x.__dict__, "latency_ms": 2.0, "stall_ms": 8.0}) for x in before]
    m4 = judge(fast, fast, GateSettings()).groups[0].metric("latency")
    assert m4 is not None and m4.stalled_after == 0 and m4.change == 1.0
    # The same 2 s without the stall record: the inflated calls make it a regression.
    unmarked = [CellOutcome(**{**x.__dict__, "stall_ms": None}) for x in after]
    m3 = judge(before, unmarked, GateSettings()).groups[0].metric("latency")
    assert m3 is not None and m3.stalled_after == 0 and m3.cases == 30


def test_a_recorded_stall_below_the_share_is_taken_out_of_the_latency() -> None:
    # The same calls again, each 40% slower because the harness stalled inside every one of
    # them (a loaded machine), the stall recorded: the provider's time did not change.
    rng = np.random.default_rng(29)
    before = run_cells(rng, Suite.draw(rng, groups=1))
    after = [
        CellOutcome(**{**x.__dict__, "latency_ms": (x.latency_ms or 0) / 0.6,
                       "stall_ms": (x.latency_ms or 0) / 0.6 * 0.4})
        for x in before
    ]
    m = judge(before, after, GateSettings()).groups[0].metric("latency")
    assert m is not None and m.stalled_after == 0 and m.cases == 30
    assert m.verdict is Verdict.NO_CHANGE and m.change == pytest.approx(1.0)
    # Unrecorded, the same 40% is a regression.
    unmarked = [CellOutcome(**{**x.__dict__, "stall_ms": None}) for x in after]
    m2 = judge(before, unmarked, GateSettings()).groups[0].metric("latency")
    assert m2 is not None and m2.verdict is Verdict.REGRESSION


def _with(cells: list[CellOutcome], **change: float) -> list[CellOutcome]:
    """The same calls with more output tokens (factor ``tokens``) or dearer (``price``)."""
    out = []
    for x in cells:
        tokens = round((x.output_tokens or 0) * change.get("tokens", 1.0))
        price = change.get("price", 1.0)
        out.append(CellOutcome(**{
            **x.__dict__, "output_tokens": tokens, "cost": (50 + 4 * tokens) * 1e-6 * price,
        }))
    return out


def test_cost_rise_from_longer_answers_is_tested_on_tokens() -> None:
    rng = np.random.default_rng(31)
    suite = Suite.draw(rng, groups=1)
    before = run_cells(rng, suite)
    after = _with(run_cells(rng, suite), tokens=1.5)
    m = judge(before, after, GateSettings()).groups[0].metric("cost_per_call")
    assert m is not None and m.verdict is Verdict.REGRESSION, m.reason
    assert m.test.startswith("tokens sign-flip")
    assert m.tokens_ratio == pytest.approx(1.5, rel=0.1)
    # More output in the mix raises the cost per token, but the prices did not change.
    assert m.price_ratio == 1.0
    assert m.p_value is not None and m.p_value < 1e-3


def test_noise_in_answer_length_is_no_cost_change() -> None:
    rng = np.random.default_rng(32)
    suite = Suite.draw(rng, groups=1)
    m = judge(run_cells(rng, suite), run_cells(rng, suite), GateSettings()).groups[0].metric(
        "cost_per_call"
    )
    assert m is not None and m.verdict is Verdict.NO_CHANGE and m.p_value is not None


def test_a_price_change_is_deterministic_not_tested() -> None:
    rng = np.random.default_rng(33)
    suite = Suite.draw(rng, groups=1)
    before = run_cells(rng, suite)
    same_tokens = _with(before, price=1.3)  # the same answers, priced 30% higher
    m = judge(before, same_tokens, GateSettings()).groups[0].metric("cost_per_call")
    assert m is not None and m.verdict is Verdict.REGRESSION
    assert m.price_ratio == pytest.approx(1.3) and m.tokens_ratio == pytest.approx(1.0)
    assert m.p_value is None and "deterministic" in m.reason
    cheaper = judge(before, _with(before, price=0.5), GateSettings()).groups[0]
    assert cheaper.metric("cost_per_call").verdict is Verdict.IMPROVEMENT  # type: ignore[union-attr]
    within = judge(before, _with(before, price=1.05), GateSettings()).groups[0]
    assert within.metric("cost_per_call").verdict is Verdict.NO_CHANGE  # type: ignore[union-attr]


def test_without_token_counts_the_per_case_cost_is_tested() -> None:
    rng = np.random.default_rng(34)
    suite = Suite.draw(rng, groups=1)
    old = [CellOutcome(**{**x.__dict__, "input_tokens": None, "output_tokens": None})
           for x in run_cells(rng, suite)]
    m = judge(old, _with(run_cells(rng, suite), tokens=1.6), GateSettings()).groups[0].metric(
        "cost_per_call"
    )
    assert m is not None and m.tokens_ratio is None and "no token counts" in m.test
    assert m.verdict is Verdict.REGRESSION
