"""Paired significance tests and intervals for the gate, in pure Python (no scipy).

Both runs answer the same cases, so every comparison is paired by case:

- one sample per case on both sides: exact McNemar test (a two-sided binomial test on the
  discordant pairs) with Newcombe's hybrid score interval for the paired difference;
- several samples per case (repeats): repeats of a case are not independent, so the case is
  the unit. Each case contributes the difference of its mean outcome after and before; the
  test is the exact sign-flip (paired permutation) test on those differences, which needs no
  seed and gives the same p on every machine. With one sample per case it reduces to McNemar.

Holm's step-down adjustment keeps the chance of any false alarm across all the groups and
metrics of a comparison at alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.stats import Z95, wilson_interval

#: Above this many DP steps (cases x lattice width) the sign-flip distribution is replaced
#: by its normal approximation, which is accurate long before that size.
EXACT_WORK_LIMIT = 4_000_000


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    term = 1  # comb(n, 0), updated in place: exact integers, no overflow
    tail = 0
    for i in range(k + 1):
        tail += term
        term = term * (n - i) // (i + 1)
    return min(1.0, (2 * tail) / (1 << n))


def newcombe_paired_interval(
    a: int, b: int, c: int, d: int, z: float = Z95
) -> tuple[float, float] | None:
    """95% interval for p_after - p_before from a paired 2x2 table (Newcombe 1998, method 10).

    a: passed before and after, b: passed before only, c: passed after only, d: neither.
    """
    n = a + b + c + d
    if n == 0:
        return None
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, z)
    l2, u2 = wilson_interval(a + c, n, z)
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    if denom == 0:
        phi = 0.0
    else:
        cross = a * d - b * c
        # Newcombe's continuity-corrected correlation.
        num = max(cross - n / 2, 0.0) if cross > 0 else float(cross)
        phi = num / math.sqrt(denom)
    delta = p2 - p1
    lo_sq = (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2
    hi_sq = (u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2
    lo = delta - math.sqrt(max(lo_sq, 0.0))
    hi = delta + math.sqrt(max(hi_sq, 0.0))
    return (max(-1.0, lo), min(1.0, hi))


@dataclass(frozen=True)
class CaseCounts:
    """One case's outcomes: successes and samples before and after."""

    case: str
    hits_before: int
    n_before: int
    hits_after: int
    n_after: int

    @property
    def rate_before(self) -> float:
        return self.hits_before / self.n_before

    @property
    def rate_after(self) -> float:
        return self.hits_after / self.n_after

    @property
    def diff(self) -> float:
        return self.rate_after - self.rate_before

    @property
    def single(self) -> bool:
        return self.n_before == 1 and self.n_after == 1


@dataclass(frozen=True)
class SignFlip:
    p_value: float
    method: str  # "exact" or "normal"


def sign_flip_test(cases: Sequence[CaseCounts]) -> SignFlip:
    """Two-sided paired permutation test on per-case mean differences.

    Under no change each case's difference is as likely to have either sign, so the
    p-value is the share of the 2^k sign assignments whose total is at least as far from 0
    as the observed one. Differences are scaled to integers (the lcm of the sample counts)
    so the exact distribution is a small dynamic programme over integer sums.
    """
    scale = 1
    for cc in cases:
        scale = math.lcm(scale, cc.n_before, cc.n_after)
    scaled = [
        cc.hits_after * (scale // cc.n_after) - cc.hits_before * (scale // cc.n_before)
        for cc in cases
    ]
    observed = abs(sum(scaled))
    xs = [abs(x) for x in scaled if x != 0]
    if not xs or observed == 0:
        return SignFlip(1.0, "exact")
    reach = sum(xs)
    if len(xs) * (2 * reach + 1) > EXACT_WORK_LIMIT:
        sd = math.sqrt(sum(x * x for x in xs))
        return SignFlip(min(1.0, math.erfc(observed / sd / math.sqrt(2))), "normal")
    # dist[j] = P(sum == j - m) for the sums reachable with the differences seen so far.
    dist = [1.0]
    m = 0
    for x in xs:
        pad = [0.0] * (2 * x)
        dist = [0.5 * (u + v) for u, v in zip(pad + dist, dist + pad, strict=True)]
        m += x
    tail = sum(p for j, p in enumerate(dist) if abs(j - m) >= observed)
    return SignFlip(min(1.0, tail), "exact")


def mean_diff_interval(cases: Sequence[CaseCounts], z: float = Z95) -> tuple[float, float] | None:
    """Normal interval for the mean per-case difference, with the case as the unit
    (a cluster-robust interval: repeats of one case are not independent evidence)."""
    k = len(cases)
    if k < 2:
        return None
    diffs = [cc.diff for cc in cases]
    mean = sum(diffs) / k
    var = sum((x - mean) ** 2 for x in diffs) / (k - 1)
    half = z * math.sqrt(var / k)
    return (max(-1.0, mean - half), min(1.0, mean + half))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
