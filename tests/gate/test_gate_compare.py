"""Verdicts from compare(): regressions separated from noise, changed prompts set apart."""

from __future__ import annotations

import json

import pytest
from gate_helpers import cell, run

from harness.gate import (
    GateSettings,
    Verdict,
    baseline_from_results,
    compare,
    render_markdown,
    render_text,
)

DEFAULTS = GateSettings()


def _compare(before, after, settings=DEFAULTS):
    return compare(baseline_from_results(before, source="base.json"), after, settings)


def _metric(comparison, name, group=0):
    m = comparison.groups[group].metric(name)
    assert m is not None, f"no {name} metric"
    return m


def test_identical_runs_give_no_regression() -> None:
    results = run([i % 4 != 0 for i in range(100)], schema_valid=True)
    comparison = _compare(results, results)
    assert not comparison.has_regression
    for name in ("pass_rate", "schema_valid_rate", "latency", "cost_per_call"):
        assert _metric(comparison, name).verdict is Verdict.NO_CHANGE
    pr = _metric(comparison, "pass_rate")
    assert (pr.b, pr.c, pr.p_value, pr.change) == (0, 0, 1.0, 0.0)
    assert "gate: no regression" in render_text(comparison)


def test_schema_validity_drop_90_to_60_over_100_cases_is_a_regression() -> None:
    before = [cell(f"c{i}", i < 90, schema_valid=i < 90) for i in range(100)]
    # 30 of the 90 valid answers turn invalid.
    after = [cell(f"c{i}", i < 60, schema_valid=i < 60) for i in range(100)]
    comparison = _compare(before, after)
    assert comparison.has_regression
    m = _metric(comparison, "schema_valid_rate")
    assert m.verdict is Verdict.REGRESSION
    assert (m.before, m.after, m.b, m.c, m.cases) == (0.9, 0.6, 30, 0, 100)
    assert m.p_value is not None and m.p_value < 1e-8
    assert m.interval is not None and m.interval[0] < -0.3 < m.interval[1] < 0
    text = render_text(comparison)
    assert "REGRESSION" in text and "b=30 c=0" in text and "-30.0 pts" in text
    assert "gate: REGRESSION (2)" in text  # pass rate and schema validity
    md = render_markdown(comparison)
    assert "**REGRESSION**" in md and "| s | openai:gpt-4o-mini |" in md


def test_two_case_wobble_over_200_cases_is_no_significant_change() -> None:
    before = run([i % 10 != 0 for i in range(200)])
    outcomes = [i % 10 != 0 for i in range(200)]
    outcomes[1] = outcomes[2] = False  # two cases that passed now fail
    comparison = _compare(before, run(outcomes))
    m = _metric(comparison, "pass_rate")
    assert (m.b, m.c) == (2, 0)
    assert m.p_value == pytest.approx(0.5)
    assert m.verdict is Verdict.NO_CHANGE
    assert not comparison.has_regression
    assert comparison.groups[0].worse_cases == ["c001", "c002"]


def test_significant_but_tiny_change_is_below_min_effect() -> None:
    n = 2000
    before = run([True] * n)
    after = run([i >= 40 for i in range(n)])  # 2 points lower, p ~ 1e-12
    m = _metric(_compare(before, after), "pass_rate")
    assert m.p_value is not None and m.p_value < 1e-9
    assert m.verdict is Verdict.NO_CHANGE and "min_effect" in m.reason


def test_improvement_is_reported_not_failed() -> None:
    comparison = _compare(run([i < 50 for i in range(100)]), run([i < 90 for i in range(100)]))
    assert _metric(comparison, "pass_rate").verdict is Verdict.IMPROVEMENT
    assert not comparison.has_regression


def test_latency_increase_beyond_tolerance_is_a_regression() -> None:
    before = run([True] * 50, latency_ms=400.0)
    after = run([True] * 50, latency_ms=600.0)  # x1.5 > 1.25
    comparison = _compare(before, after)
    m = _metric(comparison, "latency")
    assert m.verdict is Verdict.REGRESSION
    assert m.change == pytest.approx(1.5)
    assert comparison.has_regression
    assert "x1.50" in render_text(comparison)


def test_latency_within_tolerance_or_slack_is_no_change() -> None:
    within = _compare(run([True] * 20, latency_ms=400.0), run([True] * 20, latency_ms=480.0))
    assert _metric(within, "latency").verdict is Verdict.NO_CHANGE
    # x3 but only 4 ms: timer noise on a fast (cached or simulated) call.
    tiny = _compare(run([True] * 20, latency_ms=2.0), run([True] * 20, latency_ms=6.0))
    assert _metric(tiny, "latency").verdict is Verdict.NO_CHANGE


def test_cost_per_call_beyond_tolerance_and_unpriced() -> None:
    dearer = _compare(run([True] * 20, cost=0.001), run([True] * 20, cost=0.0012))
    assert _metric(dearer, "cost_per_call").verdict is Verdict.REGRESSION
    unpriced = _compare(run([True] * 20, cost=None), run([True] * 20, cost=None))
    m = _metric(unpriced, "cost_per_call")
    assert m.verdict is Verdict.NOT_COMPARABLE and "unpriced" in m.reason
    free = _compare(run([True] * 20, cost=0.0), run([True] * 20, cost=0.0))
    assert _metric(free, "cost_per_call").verdict is Verdict.NO_CHANGE


def test_changed_prompt_makes_cases_not_comparable_rather_than_regressed() -> None:
    before = run([True] * 40, schema_valid=True)
    # Every case now fails, but 30 of them have a new prompt fingerprint.
    after = [
        cell(f"c{i:03d}", False, schema_valid=False, fingerprint="new" if i < 30 else None)
        for i in range(40)
    ]
    comparison = _compare(before, after)
    g = comparison.groups[0]
    assert g.not_comparable_cases == [f"c{i:03d}" for i in range(30)]
    assert g.paired_cases == 10
    m = _metric(comparison, "pass_rate")
    assert (m.cases, m.b) == (10, 10)
    # Only the 10 unchanged cases are compared: p = 0.002 (regression) ...
    assert m.verdict is Verdict.REGRESSION
    # ... and when all fail under a new prompt, nothing is compared at all.
    all_new = [cell(f"c{i:03d}", False, fingerprint="new") for i in range(40)]
    comparison = _compare(before, all_new)
    assert not comparison.has_regression
    assert comparison.groups[0].verdict is Verdict.NOT_COMPARABLE
    assert "not comparable, test or prompt changed (a version-1 baseline" in render_text(comparison)
    assert "(40): c000" in render_text(comparison)
    assert comparison.not_comparable_cases == 40


def test_repeats_use_the_clustered_sign_flip_test() -> None:
    def rep(case: str, outcomes: list[bool]):
        return [cell(case, ok, repeat=r) for r, ok in enumerate(outcomes)]

    before = [c for i in range(30) for c in rep(f"c{i:02d}", [True, True, True])]
    # 12 cases go from 3/3 to 1/3: a consistent drop across cases.
    after = [
        c
        for i in range(30)
        for c in rep(f"c{i:02d}", [True, False, False] if i < 12 else [True] * 3)
    ]
    m = _metric(_compare(before, after), "pass_rate")
    assert m.test == "sign-flip exact"
    assert (m.worse, m.better, m.cases, m.samples_after) == (12, 0, 30, 90)
    assert m.p_value == pytest.approx(2 * 0.5**12)
    assert m.verdict is Verdict.REGRESSION
    assert m.b is None  # no discordant pairs: repeats are not independent pairs
    # The same 24 failing samples concentrated in 8 cases: fewer independent units.
    concentrated = [
        c for i in range(30) for c in rep(f"c{i:02d}", [False] * 3 if i < 8 else [True] * 3)
    ]
    m8 = _metric(_compare(before, concentrated), "pass_rate")
    assert m8.p_value == pytest.approx(2 * 0.5**8)
    assert m8.p_value > m.p_value


def test_flaky_cases_are_flagged_and_do_not_regress_on_their_own() -> None:
    def rep(case: str, outcomes: list[bool]):
        return [cell(case, ok, repeat=r) for r, ok in enumerate(outcomes)]

    stable = [c for i in range(20) for c in rep(f"c{i:02d}", [True] * 3)]
    before = stable + rep("wobbly", [True, False, True])
    after = stable + rep("wobbly", [False, False, True])
    comparison = _compare(before, after)
    g = comparison.groups[0]
    assert g.flaky_before == ["wobbly"] and g.flaky_after == ["wobbly"]
    assert g.worse_cases == ["wobbly"]
    assert _metric(comparison, "pass_rate").verdict is Verdict.NO_CHANGE
    assert not comparison.has_regression
    text = render_text(comparison)
    assert "cases passing less often (1): wobbly (flaky)" in text
    assert "flaky in the baseline (1): wobbly" in text


def test_floor_is_absolute_per_suite() -> None:
    results = run([i < 70 for i in range(100)])
    settings = GateSettings(min_pass_rate=0.5, suite_min_pass_rate={"s": 0.8})
    comparison = _compare(results, results, settings)
    floor = _metric(comparison, "pass_rate_floor")
    assert floor.verdict is Verdict.REGRESSION and floor.threshold == 0.8
    assert comparison.has_regression
    ok = _compare(results, results, GateSettings(min_pass_rate=0.5))
    assert _metric(ok, "pass_rate_floor").verdict is Verdict.OK
    assert not ok.has_regression


def test_too_few_cases_is_not_comparable() -> None:
    comparison = _compare(run([True] * 3), run([False] * 3))
    m = _metric(comparison, "pass_rate")
    assert m.verdict is Verdict.NOT_COMPARABLE and "min_cases" in m.reason
    assert not comparison.has_regression


def test_groups_and_cases_present_in_one_run_only() -> None:
    before = run([True] * 10) + run([True] * 10, target="groq:llama")
    after = run([True] * 12) + run([True] * 10, target="mistral:small")
    comparison = _compare(before, after)
    status = {g.target: g.status for g in comparison.groups}
    assert status == {
        "groq:llama": "missing",
        "mistral:small": "new",
        "openai:gpt-4o-mini": "compared",
    }
    compared = next(g for g in comparison.groups if g.status == "compared")
    assert compared.added_cases == ["c010", "c011"]
    assert compared.paired_cases == 10
    assert not comparison.has_regression


def test_temperatures_are_separate_groups_and_skips_are_ignored() -> None:
    before = run([True] * 10, temperature=0.0) + run([True] * 10, temperature=0.7)
    after = run([True] * 10, temperature=0.0) + run([False] * 10, temperature=0.7, status="skipped")
    comparison = _compare(before, after)
    assert [g.temperature for g in comparison.groups] == [0.0, 0.7]
    hot = comparison.groups[1]
    assert hot.status == "missing"  # every cell skipped: nothing ran to compare
    assert not comparison.has_regression


def test_errors_count_as_failures() -> None:
    before = run([True] * 40)
    after = run([True] * 20) + [
        cell(f"c{i:03d}", False, status="error", latency_ms=None) for i in range(20, 40)
    ]
    m = _metric(_compare(before, after), "pass_rate")
    assert (m.b, m.verdict) == (20, Verdict.REGRESSION)


def test_holm_correction_across_groups() -> None:
    # 7 of 20 discordant in each of 10 groups: p = 0.0156 alone, not after Holm over the
    # comparison's 20 tests (10 pass-rate tests and 10 latency tests; cost is unpriced).
    def groups(fail_first: int):
        out = []
        for g in range(10):
            out += run([i >= fail_first for i in range(20)], target=f"p:m{g}", cost=None)
        return out

    settings = GateSettings(min_effect=0.0)
    corrected = _compare(groups(0), groups(7), settings)
    assert not corrected.has_regression
    m = _metric(corrected, "pass_rate")
    assert m.p_value == pytest.approx(2 * 0.5**7)
    assert m.p_adjusted == pytest.approx(min(1.0, 20 * 2 * 0.5**7))
    latency = _metric(corrected, "latency")
    assert (latency.p_value, latency.p_adjusted) == (1.0, 1.0)  # same latencies: no change
    assert _metric(corrected, "cost_per_call").p_value is None
    raw = _compare(groups(0), groups(7), GateSettings(min_effect=0.0, correction="none"))
    assert raw.has_regression


def test_to_dict_is_json() -> None:
    before = run([True] * 10, cost=0.0)
    after = run([False] * 10, cost=0.01)
    data = json.loads(json.dumps(_compare(before, after).to_dict(), allow_nan=False))
    assert data["has_regression"] is True
    metrics = {m["metric"]: m for m in data["groups"][0]["metrics"]}
    assert metrics["pass_rate"]["verdict"] == "regression"
    assert metrics["pass_rate"]["b"] == 10
    assert metrics["cost_per_call"]["verdict"] == "regression"
    assert data["settings"]["alpha"] == 0.05


def test_missing_groups_are_listed_once() -> None:
    before = (
        run([True] * 10) + run([True] * 10, target="groq:a") + run([True] * 10, target="groq:b")
    )
    comparison = _compare(before, run([True] * 10))
    text = render_text(comparison)
    assert (
        "not run (or all skipped) here, not compared (2): s / groq:a / t=0, s / groq:b / t=0"
        in text
    )
    assert "not run (or all skipped) here" in render_markdown(comparison)
    assert comparison.current == "this run (r)"


def test_pass_rate_says_the_smallest_change_it_could_flag() -> None:
    same = run([True] * 30)
    # Alone (no correction): 6 of 30 cases must flip for p = 2 * 0.5**6 < 0.05: 20 points.
    alone = _compare(same, same, GateSettings(correction="none"))
    m = _metric(alone, "pass_rate")
    assert (m.detectable_cases, m.detectable) == (6, pytest.approx(0.2))
    # Holm over the comparison's 3 tests (pass rate, latency, cost): a lone change must
    # reach p < 0.05 / 3, so 7 cases (p = 0.0156), 23.3 points.
    held = _compare(same, same)
    m = _metric(held, "pass_rate")
    assert (m.detectable_cases, m.detectable) == (7, pytest.approx(7 / 30))
    text = render_text(held)
    assert "the smallest change it could flag is 23.3 pts (7 of 30 cases" in text
    assert "over 3 tests" in text
    # It is the real limit: 6 cases flipping are not flagged here, 7 are.
    six = _compare(same, run([i >= 6 for i in range(30)]))
    seven = _compare(same, run([i >= 7 for i in range(30)]))
    assert _metric(six, "pass_rate").verdict is Verdict.NO_CHANGE
    assert _metric(seven, "pass_rate").verdict is Verdict.REGRESSION


def test_too_few_cases_can_never_be_flagged_and_says_so() -> None:
    comparison = _compare(run([True] * 5), run([False] * 5))
    m = _metric(comparison, "pass_rate")
    assert m.detectable is None and m.verdict is Verdict.NO_CHANGE  # all 5 failed: p = 0.0625
    assert "pass rate: cannot detect any change with 5 cases" in render_text(comparison)
    assert "cannot detect any change with 5 cases" in render_markdown(comparison)


def test_detectable_change_with_repeats_is_one_sample_per_case() -> None:
    rows = [cell(f"c{i:02d}", True, repeat=r) for i in range(30) for r in range(5)]
    m = _metric(_compare(rows, rows, GateSettings(correction="none", min_effect=0.0)),
                "pass_rate")
    assert (m.detectable_cases, m.detectable) == (6, pytest.approx(6 / 150))
    # ... and never below min_effect, which a verdict also needs.
    m = _metric(_compare(rows, rows, GateSettings(correction="none")), "pass_rate")
    assert m.detectable == pytest.approx(0.05)
