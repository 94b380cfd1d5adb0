"""Per-group statistics: Wilson and clustered intervals, latency/TTFT, costs, flaky cases."""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.stats import Z95, clustered_interval, percentile, summarize, wilson_interval
from harness.types import Result


def result(case: str, status: str = "passed", repeat: int = 0, **kw: Any) -> Result:
    base: dict[str, Any] = dict(
        run_id="r", suite="s", case_id=case, target="openai:gpt-4o-mini", provider="openai",
        model="gpt-4o-mini", temperature=0.0, repeat=repeat, status=status,
        passed=status == "passed",
    )
    base.update(kw)
    return Result(**base)


def wilson_formula(p: float, n: float) -> tuple[float, float]:
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def test_wilson_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10, 20], 95) == pytest.approx(19.5)


def test_clustered_single_samples_is_wilson() -> None:
    ci = clustered_interval([(1, 1)] * 8 + [(0, 1)] * 2)
    assert ci.method == "wilson" and ci.design_effect == 1.0
    assert (ci.low, ci.high) == wilson_interval(8, 10)


def test_clustered_perfectly_correlated_repeats() -> None:
    # 4 cases x 3 repeats, each case all-pass or all-fail: p = 0.5, n = 12, k = 4.
    # V_cl = 4/3 * 4 * (1.5 ** 2) / 144 = 1/12; V_bin = 0.25 / 12; deff = 4 -> n_eff = 3.
    ci = clustered_interval([(3, 3), (0, 3), (3, 3), (0, 3)])
    assert ci.method == "wilson-clustered"
    assert ci.design_effect == pytest.approx(4.0)
    assert ci.effective_n == pytest.approx(3.0)
    assert (ci.low, ci.high) == pytest.approx(wilson_formula(0.5, 3.0))
    naive = wilson_interval(6, 12)
    assert ci.high - ci.low > naive[1] - naive[0]


def test_clustered_uncorrelated_repeats_floor_at_wilson() -> None:
    # within-case mixing: V_cl < V_bin, deff floored at 1 -> plain Wilson on n = 12
    ci = clustered_interval([(2, 3), (1, 3), (2, 3), (1, 3)])
    assert ci.design_effect == 1.0 and ci.effective_n == 12
    assert (ci.low, ci.high) == pytest.approx(wilson_interval(6, 12))


def test_clustered_degenerate() -> None:
    assert clustered_interval([]).effective_n == 0.0
    all_pass = clustered_interval([(3, 3), (3, 3)])
    assert all_pass.design_effect == 1.0 and all_pass.high == 1.0
    one = clustered_interval([(1, 3)])
    assert one.design_effect == 1.0


def test_summary_counts_rates_and_intervals() -> None:
    rs = [
        result("a", repeat=0), result("a", repeat=1),
        result("b", "failed", repeat=0), result("b", "passed", repeat=1),
        result("c", "error", repeat=0, error="boom", retries=2),
        result("c", "failed", repeat=1, retries=1),
        result("d", "skipped", repeat=0),
    ]
    [g] = summarize(rs)
    assert (g.cells, g.scored, g.passed, g.errors, g.skipped) == (7, 5, 3, 1, 1)
    assert g.pass_rate == pytest.approx(3 / 6)
    assert g.error_rate == pytest.approx(1 / 6)
    assert g.retries == 3 and g.retry_rate == pytest.approx(2 / 6)
    assert g.retries_per_call == pytest.approx(0.5)
    assert (g.cases, g.max_repeats) == (3, 2)
    assert g.ci_method == "wilson-clustered"
    # clusters (2,2), (1,2), (0,2): p = .5; V_cl = 3/2 * (1 + 0 + 1) / 36; V_bin = .25/6
    deff = (1.5 * 2 / 36) / (0.25 / 6)
    assert g.pass_rate_design_effect == pytest.approx(deff)
    assert g.pass_rate_ci == pytest.approx(wilson_formula(0.5, 6 / deff))
    assert g.flaky_cases == ["b"]
    assert g.always_failing_cases == ["c"]


def test_summary_groups_by_suite_target_temperature_and_prompt() -> None:
    rs = [result("a"), result("a", temperature=0.7), result("a", target="groq:x"),
          result("a", prompt_id="v2", status="failed")]
    groups = summarize(rs)
    assert [g.key for g in groups] == [
        ("s", "openai:gpt-4o-mini", 0.0, "default"), ("s", "openai:gpt-4o-mini", 0.7, "default"),
        ("s", "groq:x", 0.0, "default"), ("s", "openai:gpt-4o-mini", 0.0, "v2")]
    assert (groups[0].pass_rate, groups[3].pass_rate) == (1.0, 0.0)


def test_latency_ttft_and_throughput() -> None:
    rs = [result(str(i), latency_ms=100.0 * (i + 1), ttft_ms=10.0 * (i + 1),
                 tokens_per_s=float(50 + i)) for i in range(10)]
    rs.append(result("x", latency_ms=None, ttft_ms=None, tokens_per_s=None))
    [g] = summarize(rs)
    assert g.latency_p50_ms == pytest.approx(550.0)
    assert g.latency_p95_ms == pytest.approx(955.0)
    assert g.latency_p99_ms == pytest.approx(991.0)
    assert g.ttft_p50_ms == pytest.approx(55.0)
    assert g.ttft_p99_ms == pytest.approx(99.1)
    assert g.tokens_per_s == g.tokens_per_s_p50 == pytest.approx(54.5)
    assert g.tokens_per_s_p5 == pytest.approx(50.45)


def test_costs_live_equivalent_per_call_and_per_case() -> None:
    rs = [
        result("a", repeat=0, cost_usd=0.002, cost_if_live_usd=0.002, input_tokens=100,
               output_tokens=10, cached_input_tokens=40),
        result("a", repeat=1, cached=True, cost_usd=0.0, cost_if_live_usd=0.004,
               input_tokens=100, output_tokens=20),
        result("b", cost_usd=0.003, cost_if_live_usd=0.003, input_tokens=50, output_tokens=5),
        result("c", "error", cost_usd=None, cost_if_live_usd=None),
    ]
    [g] = summarize(rs)
    assert g.cost_usd == pytest.approx(0.005)
    assert g.cost_if_live_usd == pytest.approx(0.009)
    assert g.cost_per_call_usd == pytest.approx(0.003)
    assert g.cost_per_case_usd == pytest.approx(0.0045)
    assert g.cost_per_1k_cases_usd == pytest.approx(4.5)
    assert (g.input_tokens, g.output_tokens, g.cached_input_tokens) == (250, 35, 40)
    assert g.cached == 1 and not g.unpriced and g.unpriced_calls == 0


def test_unpriced_is_flagged_never_summed_as_zero() -> None:
    rs = [result("a", cost_usd=0.001, cost_if_live_usd=0.001),
          result("b", cost_usd=None, cost_if_live_usd=None)]
    [g] = summarize(rs)
    assert g.unpriced and g.unpriced_calls == 1
    assert g.cost_if_live_usd is None and g.cost_per_call_usd is None
    assert g.cost_per_1k_cases_usd is None


def test_schema_valid_rate() -> None:
    rs = [result("a", schema_valid=True), result("b", schema_valid=False),
          result("c", schema_valid=None)]
    [g] = summarize(rs)
    assert (g.schema_checked, g.schema_valid) == (2, 1)
    assert g.schema_valid_rate == 0.5
    assert g.schema_valid_ci == wilson_interval(1, 2)


def test_to_dict_is_json_ready() -> None:
    import json

    [g] = summarize([result("a")])
    data = json.loads(json.dumps(g.to_dict()))
    assert data["pass_rate"] == 1.0 and data["ci_method"] == "wilson"
