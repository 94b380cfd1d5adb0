"""The statistics behind the gate, checked against values worked out by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from harness.gate import paired
from harness.gate.paired import (
    CaseCounts,
    holm,
    mcnemar_exact,
    mean_diff_interval,
    min_flaggable_cases,
    newcombe_paired_interval,
    paired_log_ratio,
    sign_flip_mean_test,
    sign_flip_test,
    t_interval,
)


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),
        (2, 0, 0.5),
        (1, 6, 2 * (1 + 7) / 2**7),
        (5, 5, 1.0),
        (30, 0, 2 * 0.5**30),
        (0, 12, 2 * 0.5**12),
    ],
)
def test_mcnemar_exact(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_mcnemar_exact_handles_many_discordant_pairs() -> None:
    p = mcnemar_exact(1500, 1500)
    assert 0.9 < p <= 1.0
    assert mcnemar_exact(1200, 1800) < 1e-20


def _single(before: list[bool], after: list[bool]) -> list[CaseCounts]:
    return [
        CaseCounts(str(i), int(x), 1, int(y), 1)
        for i, (x, y) in enumerate(zip(before, after, strict=True))
    ]


@pytest.mark.parametrize(("b", "c", "same"), [(0, 0, 5), (3, 0, 10), (4, 9, 7), (1, 1, 0)])
def test_sign_flip_with_single_samples_is_mcnemar(b: int, c: int, same: int) -> None:
    before = [True] * b + [False] * c + [True] * same
    after = [False] * b + [True] * c + [True] * same
    result = sign_flip_test(_single(before, after))
    assert result.method == "exact"
    assert result.p_value == pytest.approx(mcnemar_exact(b, c))


def test_sign_flip_exact_matches_enumeration_with_unequal_repeats() -> None:
    cases = [
        CaseCounts("a", 3, 3, 1, 3),
        CaseCounts("b", 2, 2, 0, 2),
        CaseCounts("c", 1, 3, 1, 3),
        CaseCounts("d", 2, 3, 3, 3),
        CaseCounts("e", 1, 1, 0, 2),
    ]
    diffs = [cc.diff for cc in cases]
    observed = abs(sum(diffs))
    hits = sum(
        abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed - 1e-12
        for signs in itertools.product((1, -1), repeat=len(diffs))
    )
    assert sign_flip_test(cases).p_value == pytest.approx(hits / 2 ** len(diffs))


def test_sign_flip_normal_approximation_agrees_for_large_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [CaseCounts(f"c{i}", 3, 3, 2 if i % 3 else 3, 3) for i in range(300)]
    exact = sign_flip_test(cases)
    monkeypatch.setattr(paired, "EXACT_WORK_LIMIT", 10)
    approx = sign_flip_test(cases)
    assert (exact.method, approx.method) == ("exact", "normal")
    assert approx.p_value == pytest.approx(exact.p_value, rel=0.5)
    assert exact.p_value < 1e-40


def test_newcombe_interval_properties() -> None:
    lo, hi = newcombe_paired_interval(60, 30, 0, 10) or (0, 0)
    assert -1 <= lo < -0.3 < hi < 0
    lo0, hi0 = newcombe_paired_interval(90, 0, 0, 10) or (0, 0)
    assert lo0 < 0 < hi0
    # More data, narrower interval.
    wide = newcombe_paired_interval(6, 3, 0, 1) or (0, 0)
    narrow = newcombe_paired_interval(600, 300, 0, 100) or (0, 0)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]
    assert newcombe_paired_interval(0, 0, 0, 0) is None
    lo5, hi5 = newcombe_paired_interval(0, 5, 0, 0) or (0, 0)
    assert lo5 == -1.0 and -1 < hi5 < 0


def test_mean_diff_interval_uses_cases_as_units() -> None:
    cases = [CaseCounts(str(i), 3, 3, 3 if i % 2 else 0, 3) for i in range(10)]
    lo, hi = mean_diff_interval(cases) or (0, 0)
    # Student t with 9 degrees of freedom (2.262), not z: 10 cases are few.
    half = 2.2621571627982 * math.sqrt((10 * 0.25 / 9) / 10)
    assert (lo, hi) == pytest.approx((-0.5 - half, -0.5 + half))
    assert mean_diff_interval(cases[:1]) is None


def test_holm() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def _enumerated_p(diffs: list[float]) -> float:
    observed = abs(sum(diffs))
    hits = sum(
        abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed - 1e-12
        for signs in itertools.product((1, -1), repeat=len(diffs))
    )
    return hits / 2 ** len(diffs)


def test_sign_flip_mean_test_is_exact_for_few_cases() -> None:
    diffs = [0.31, -0.05, 0.12, 0.4, 0.22, -0.11, 0.08, 0.5, 0.02, 0.17]
    result = sign_flip_mean_test(diffs)
    assert result.method == "exact"
    assert result.p_value == pytest.approx(_enumerated_p(diffs))
    # All the same sign: only the two extreme assignments are as far out.
    assert sign_flip_mean_test([0.2] * 6).p_value == pytest.approx(2 / 2**6)
    assert sign_flip_mean_test([0.0, 0.0]).p_value == 1.0
    assert sign_flip_mean_test([]).p_value == 1.0


def test_sign_flip_mean_test_monte_carlo_is_close_and_reproducible() -> None:
    rng = np.random.default_rng(9)
    diffs = list(rng.normal(0.25, 0.4, 20))
    result = sign_flip_mean_test(diffs)
    assert result.method == "monte carlo"
    exact = _enumerated_p_fast(diffs)
    assert 0.001 < exact < 0.05  # where a verdict is decided: all 20,000 draws are used
    # standard error sqrt(p (1 - p) / 20000) < 0.0016
    assert result.p_value == pytest.approx(exact, abs=0.005)
    assert sign_flip_mean_test(diffs) == result  # fixed seed: the same p every time
    # A huge effect reaches the floor 1 / 20001, never 0.
    assert sign_flip_mean_test([1.0] * 40).p_value == pytest.approx(1 / 20_001)


def test_sign_flip_mean_test_stops_early_far_from_alpha() -> None:
    rng = np.random.default_rng(4)
    diffs = list(rng.normal(0, 1, 40))
    result = sign_flip_mean_test(diffs)
    # Sequential p (Besag & Clifford) = 100 hits / draws: near the truth (within a few of
    # its standard errors, p * sqrt((1 - p) / 100)), and far from alpha.
    truth = math.erfc(abs(sum(diffs)) / math.sqrt(sum(d * d for d in diffs)) / math.sqrt(2))
    assert truth > 0.2
    assert result.p_value == pytest.approx(truth, abs=0.15)
    assert result.p_value > 0.1


def _enumerated_p_fast(diffs: list[float]) -> float:
    xs = np.asarray(diffs)
    k = len(xs)
    signs = 1 - 2 * ((np.arange(2**k)[:, None] >> np.arange(k)) & 1)
    sums = np.abs(signs @ xs)
    return float(np.mean(sums >= abs(xs.sum()) - 1e-12))


def test_paired_log_ratio_takes_the_case_as_the_unit() -> None:
    # Case a: 3 repeats, geometric mean 200 -> 400 (x2); case b: 1 sample, 100 -> 100.
    pairs = [([100.0, 200.0, 400.0], [400.0, 400.0, 400.0]), ([100.0], [100.0])]
    result = paired_log_ratio(pairs)
    assert result is not None
    assert result.cases == 2
    assert result.ratio == pytest.approx(math.sqrt(2))  # exp(mean(log 2, 0))
    assert result.before == pytest.approx(math.sqrt(200 * 100))
    assert result.after == pytest.approx(math.sqrt(400 * 100))
    assert (result.worse, result.better) == (1, 0)
    assert result.p_value == pytest.approx(1.0)  # one nonzero difference: 2 of 2 signs
    # Values <= 0 have no log and are left out; a case without samples on a side drops.
    assert paired_log_ratio([([0.0], [5.0]), ([5.0], [])]) is None
    assert paired_log_ratio([]) is None


def test_paired_log_ratio_interval_is_student_t_on_the_log_scale() -> None:
    logs = [0.1, 0.3, 0.2, 0.4, 0.0]
    pairs = [([100.0], [100.0 * math.exp(d)]) for d in logs]
    result = paired_log_ratio(pairs)
    assert result is not None and result.interval is not None
    mean = sum(logs) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 4)
    half = 2.7764451051977 * sd / math.sqrt(5)  # t(0.975, 4 df)
    assert result.interval == pytest.approx((math.exp(mean - half), math.exp(mean + half)))
    # The zero difference has no sign: 4 cases, all up -> 2 of 16 assignments.
    assert result.method == "exact" and result.p_value == pytest.approx(2 / 16)


def test_t_interval() -> None:
    assert t_interval([1.0]) is None
    lo, hi = t_interval([1.0, 3.0]) or (0, 0)
    assert (lo, hi) == pytest.approx((2 - 12.706204736 * 1.0, 2 + 12.706204736 * 1.0))


def test_t_interval_covers_with_few_cases() -> None:
    # The z interval covered 88-93% with 5-10 cases; t covers 95%.
    rng = np.random.default_rng(8)
    for k in (5, 10):
        samples = rng.normal(0.0, 1.0, (4000, k))
        covered = 0
        for row in samples:
            lo, hi = t_interval(list(row)) or (0, 0)
            covered += lo <= 0.0 <= hi
        assert 0.94 <= covered / 4000 <= 0.96


@pytest.mark.parametrize(("alpha", "cases"), [(0.05, 6), (0.0626, 5), (0.0625, 6), (0.0025, 10), (0.51, 2)])
def test_min_flaggable_cases(alpha: float, cases: int) -> None:
    assert min_flaggable_cases(alpha) == cases
    # It is the fewest: that many discordant pairs reach p < alpha, one fewer does not.
    assert mcnemar_exact(cases, 0) < alpha <= mcnemar_exact(cases - 1, 0)
