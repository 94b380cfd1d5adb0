"""The one percentile definition of the harness, used by every stage that reports one (the
runner's loop lag, the run's latency statistics, the report). Kept apart from
harness.results.stats so the calls stage need not import a later stage."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (q in 0..100) of ``values``; None for no values.

    The one definition the harness uses (Hyndman & Fan type 7, numpy's and R's default):
    with the values sorted as x[0..n-1], the position (n - 1) * q / 100 is interpolated
    linearly between its neighbours, so p0 is the minimum, p100 the maximum and p50 the
    usual median.
    """
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
