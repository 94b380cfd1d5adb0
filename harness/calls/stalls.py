"""Stalls of the runner's event loop, and how much of them overlapped one call.

A call is timed on the runner's loop, so while that loop cannot run (its thread is waiting
for the GIL, or a callback blocks it) a response that has arrived waits before it is timed.
The runner's lag watcher wakes every few milliseconds; a wake-up later than due means the
loop was stalled from the due time until the wake-up, and that interval is added here. For
each call the runner then asks how much stall overlapped the call's timing window and records
it as ``stall_ms`` beside ``latency_ms``: the part of the latency the provider did not cause.

Pure bookkeeping on plain numbers (perf_counter seconds): no clock, no loop, so it is tested
with hand-made intervals. Used on the loop thread only.
"""

from __future__ import annotations

import bisect

#: Lateness below this is the loop's ordinary scheduling jitter, not a stall: summing it over
#: a long call would report noise as stall.
MIN_STALL_MS = 2.0
#: Stall intervals kept at most (oldest dropped first); a run keeps far fewer.
MAX_STALLS = 100_000


class StallLog:
    """Disjoint intervals (start, end) in seconds during which the loop could not run."""

    __slots__ = ("_ends", "_starts", "largest_ms")

    def __init__(self) -> None:
        self._starts: list[float] = []
        self._ends: list[float] = []
        #: The longest single stall seen (ms); the summary reports it.
        self.largest_ms = 0.0

    def __len__(self) -> int:
        return len(self._starts)

    def add(self, start: float, end: float) -> None:
        """Record that the loop was stalled from ``start`` to ``end``. Intervals arrive in
        time order (the watcher is one coroutine); one that overlaps the last is merged."""
        if (end - start) * 1000.0 < MIN_STALL_MS:
            return
        if self._ends and start <= self._ends[-1]:
            self._ends[-1] = max(self._ends[-1], end)
            start = self._starts[-1]
        else:
            if len(self._starts) >= MAX_STALLS:
                del self._starts[: MAX_STALLS // 10], self._ends[: MAX_STALLS // 10]
            self._starts.append(start)
            self._ends.append(end)
        self.largest_ms = max(self.largest_ms, (self._ends[-1] - start) * 1000.0)

    def overlap_ms(self, start: float, end: float, open_since: float | None = None) -> float:
        """Milliseconds of stall inside [start, end].

        ``open_since``: the time the watcher's current wake-up was due. If that is more
        than MIN_STALL_MS before ``end``, the loop is in (or just out of) a stall the watcher
        has not recorded yet, and [open_since, end] counts too.
        """
        total = 0.0
        i = bisect.bisect_right(self._ends, start)
        while i < len(self._starts) and self._starts[i] < end:
            total += min(end, self._ends[i]) - max(start, self._starts[i])
            i += 1
        if open_since is not None and (end - open_since) * 1000.0 >= MIN_STALL_MS:
            recorded_to = self._ends[-1] if self._ends else open_since
            lo = max(start, open_since, recorded_to)
            if end > lo:
                total += end - lo
        return max(0.0, total) * 1000.0
