"""Paired significance tests, intervals and detection limits for the gate (no scipy).

Every function here takes per-case paired samples (how cases are paired is the caller's
business). Both runs answer the same cases, so every comparison is paired by case:

- one sample per case on both sides: exact McNemar test (a two-sided binomial test on the
  discordant pairs) with Newcombe's hybrid score interval for the paired difference;
- several samples per case (repeats): repeats of a case are not independent, so the case is
  the unit. Each case contributes the difference of its mean outcome after and before; the
  test is the exact sign-flip (paired permutation) test on those differences, which needs no
  seed and gives the same p on every machine. With one sample per case it reduces to McNemar.
- latency and token counts (``paired_log_ratio``): each case's repeats are summarised by
  their mean log, and the case's difference is the log of after / before; the test is the
  sign-flip test on those differences (``sign_flip_mean_test``: exact for up to 16 cases,
  above that a Monte Carlo over 20,000 sign draws from a fixed seed, the same p on every
  machine), the effect is the geometric-mean ratio exp(mean difference) with a Student-t
  interval.

Intervals on a mean of case differences use Student's t with k - 1 degrees of freedom, not
z: with 5-10 cases z covers 88-93% instead of 95%.

Holm's step-down adjustment keeps the chance of any false alarm across all the groups and
metrics of a comparison at alpha. ``min_flaggable_cases`` says what a test can detect at all.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.results.stats import Z95, t_quantile, wilson_interval

#: Above this many DP steps (cases x lattice width) the sign-flip distribution is replaced
#: by its normal approximation, which is accurate long before that size.
EXACT_WORK_LIMIT = 4_000_000

#: Up to this many cases the sign-flip test on real-valued differences enumerates all 2^k
#: sign assignments; above it draws MC_DRAWS of them from MC_SEED.
EXACT_MAX_CASES = 16
MC_DRAWS = 20_000
MC_SEED = 20261129
#: Monte Carlo draws are taken in chunks; it stops at this many draws reaching the observed
#: sum (a p-value near 1 needs few draws to be known well enough).
MC_CHUNK = 1_000
MC_STOP_HITS = 100


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


def mean_diff_interval(cases: Sequence[CaseCounts]) -> tuple[float, float] | None:
    """95% interval for the mean per-case difference, with the case as the unit (repeats of
    one case are not independent evidence): Student's t with k - 1 degrees of freedom."""
    interval = t_interval([cc.diff for cc in cases])
    if interval is None:
        return None
    return (max(-1.0, interval[0]), min(1.0, interval[1]))


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """Student-t interval for the mean of ``values`` (one per case); None below 2 values."""
    k = len(values)
    if k < 2:
        return None
    mean = math.fsum(values) / k
    var = math.fsum((x - mean) ** 2 for x in values) / (k - 1)
    half = t_quantile(0.5 + level / 2, k - 1) * math.sqrt(var / k)
    return (mean - half, mean + half)


@functools.lru_cache(maxsize=8)
def _sign_matrix(k: int) -> np.ndarray:
    """Rows of +-1: all 2^k sign assignments for small k, else MC_DRAWS seeded draws.

    The draws come from Python's Mersenne Twister (``random.Random(MC_SEED)``), whose
    stream for a given seed is fixed across Python versions and platforms, so a
    comparison's p-value is the same everywhere."""
    if k <= EXACT_MAX_CASES:
        bits = ((np.arange(2**k, dtype=np.int64)[:, None] >> np.arange(k)) & 1).astype(np.float64)
    else:
        raw = random.Random(MC_SEED).randbytes((MC_DRAWS * k + 7) // 8)
        drawn = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[: MC_DRAWS * k]
        bits = drawn.reshape(MC_DRAWS, k).astype(np.float64)
    matrix = 1.0 - 2.0 * bits
    matrix.setflags(write=False)
    return matrix


def sign_flip_mean_test(diffs: Sequence[float]) -> SignFlip:
    """Two-sided paired permutation (sign-flip) test that the mean of ``diffs`` is 0.

    Under no change each case's difference is as likely to have either sign. The p-value is
    the share of sign assignments whose |sum| is at least the observed one: all 2^k of them
    up to EXACT_MAX_CASES cases (method "exact"). Above, random assignments from a fixed
    seed (method "monte carlo"): up to MC_DRAWS of them, p = (1 + hits) / (1 + draws), or,
    once MC_STOP_HITS assignments have reached the observed sum, p = MC_STOP_HITS / draws
    so far (Besag & Clifford's sequential p-value). Both keep the test's level; stopping
    early only saves time on p-values far from any alpha.
    """
    xs = np.asarray([d for d in diffs if d != 0], dtype=np.float64)
    if xs.size == 0:
        return SignFlip(1.0, "exact")
    observed = abs(float(xs.sum()))
    # Sums equal to the observed one up to rounding count as "at least as far".
    tol = 1e-9 * float(np.abs(xs).sum())
    signs = _sign_matrix(int(xs.size))
    exact = xs.size <= EXACT_MAX_CASES
    hits = 0
    step = MC_CHUNK if not exact else max(1, 2_000_000 // xs.size)
    for start in range(0, signs.shape[0], step):
        far = np.abs(signs[start : start + step] @ xs) >= observed - tol
        found = int(np.count_nonzero(far))
        if not exact and hits + found >= MC_STOP_HITS:
            # Draws up to and including the MC_STOP_HITS-th hit.
            draws = start + int(np.flatnonzero(far)[MC_STOP_HITS - hits - 1]) + 1
            return SignFlip(MC_STOP_HITS / draws, "monte carlo")
        hits += found
    if exact:
        return SignFlip(min(1.0, hits / signs.shape[0]), "exact")
    return SignFlip(min(1.0, (1 + hits) / (1 + signs.shape[0])), "monte carlo")


@dataclass(frozen=True)
class RatioTest:
    """A paired comparison of a positive quantity (latency, tokens) on the log scale."""

    #: Cases with at least one usable sample on both sides.
    cases: int
    #: Geometric means over the cases of each case's geometric mean: the typical value.
    before: float
    after: float
    #: exp(mean per-case log ratio): the typical after / before factor, and its 95% interval.
    ratio: float
    interval: tuple[float, float] | None
    p_value: float
    method: str
    #: Cases whose value rose / fell.
    worse: int
    better: int


def paired_log_ratio(pairs: Sequence[tuple[Sequence[float], Sequence[float]]]) -> RatioTest | None:
    """Compare per-case samples (before, after) of a positive quantity; None without cases.

    Each case's samples (its repeats) become their mean log, so a case with 5 repeats
    counts once, like a case with one; values <= 0 are left out (no log). The test is
    ``sign_flip_mean_test`` on the per-case log ratios, which holds its level whatever the
    latency distribution (a few slow calls cannot fake a shift: they move one case).
    """
    logs_b: list[float] = []
    logs_a: list[float] = []
    for before, after in pairs:
        b = [math.log(x) for x in before if x > 0]
        a = [math.log(x) for x in after if x > 0]
        if b and a:
            logs_b.append(math.fsum(b) / len(b))
            logs_a.append(math.fsum(a) / len(a))
    k = len(logs_b)
    if k == 0:
        return None
    diffs = [a - b for a, b in zip(logs_a, logs_b, strict=True)]
    flip = sign_flip_mean_test(diffs)
    interval = t_interval(diffs)
    return RatioTest(
        cases=k,
        before=math.exp(math.fsum(logs_b) / k),
        after=math.exp(math.fsum(logs_a) / k),
        ratio=math.exp(math.fsum(diffs) / k),
        interval=None if interval is None else (math.exp(interval[0]), math.exp(interval[1])),
        p_value=flip.p_value,
        method=flip.method,
        worse=sum(d > 0 for d in diffs),
        better=sum(d < 0 for d in diffs),
    )


def min_flaggable_cases(alpha: float) -> int:
    """The fewest cases that must all change the same way for a two-sided sign test (exact
    McNemar, or the sign-flip test with equal changes) to reach p < alpha.

    With j such cases and every other case unchanged, p = 2 * 0.5 ** j, the smallest p any
    arrangement of j changed cases can give. So fewer than this many changed cases can never
    be a verdict: 6 at alpha 0.05, 10 at 0.0025 (0.05 over 20 Holm-corrected tests)."""
    j = 1
    while 2 * 0.5**j >= alpha:
        j += 1
    return j

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
