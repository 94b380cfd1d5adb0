"""The statistics behind the gate, checked against values worked out by hand."""

from __future__ import annotations

import itertools
import math

import pytest

from harness.gate import paired
from harness.gate.paired import (
    CaseCounts,
    holm,
    mcnemar_exact,
    mean_diff_interval,
    newcombe_paired_interval,
    sign_flip_test,
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
