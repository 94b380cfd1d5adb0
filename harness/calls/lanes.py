"""A lane: one provider's event loop, on a thread of its own, with its backlog and stall log.

Why one loop per provider: an SDK's own work (building a request, parsing an answer) runs on
the loop that times the call. On one shared loop, a burst of answers from an SDK that costs
milliseconds of CPU each (mistralai builds two pydantic models per call) held up every other
provider's answers, which were then timed as their latency: one provider's client cost was
reported as another provider's slowness. On lanes, the loops take turns on the GIL every
``sys.getswitchinterval()`` (the runner sets 1 ms), so another provider's burst delays an
answer by about that, not by the whole burst; what an SDK costs stays on its own lane's calls,
where a bare client of that SDK pays it too.

A lane also watches its own loop: a wake-up later than due means the loop could not run in
between, and that interval goes into the lane's StallLog (harness.calls.stalls), from which
each of its calls gets ``stall_ms``. And it spaces the calls it sends (take_turn): calls
released together, each timed from its own start, took in one another's request building.

The lane knows nothing about providers, caches or budgets: it runs what the Runner gives it
(``start``: a coroutine per call) at most ``cap`` at a time, keeping the rest as plain tuples.
"""

from __future__ import annotations

import asyncio
import collections
import selectors
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from harness.calls.stalls import StallLog
from harness.percentiles import percentile

#: How often the loop's wake-up lag is sampled, and at most how many samples are kept. A
#: stall is seen from the first wake-up due inside it, so it is under-counted by at most this.
LAG_SAMPLE_S = 0.01
MAX_LAG_SAMPLES = 200_000
#: The spacing of the calls a lane sends (Lane.take_turn): at most this gap, the first
#: wave over at most this time, and the weight of each call in the running mean of their
#: time. 6 ms, not 2: four providers' first waves of 16 sent 2 ms apart still took in one
#: another's request building (largest call 146-223 ms for 100 ms; 113-197 ms at 6 ms,
#: bench/bench_latency_truth.py). A lane with a high limit is spaced by the half-mean rule.
START_GAP_S = 0.006
FIRST_WAVE_S = 0.1
MEAN_WEIGHT = 0.1
#: Prefix of every lane thread's name (the provider's name follows).
THREAD_PREFIX = "llm-harness-calls-"

#: One queued call as the Runner hands it over; the lane only passes it back to ``start``.
Job = tuple[Any, ...]


class _WatchedSelector(selectors.DefaultSelector):
    """The lane loop's selector, saying whether the loop waits for I/O with nothing else to
    do (a select with a timeout: no callback is ready), which is when it needs no GIL."""

    waiting = False

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        self.waiting = timeout is None or timeout > 0
        try:
            return super().select(timeout)
        finally:
            self.waiting = False


def start_gap(limit: int, mean_call_s: float | None) -> float:
    """The least time between two calls a lane sends (Lane.take_turn): START_GAP_S, but
    never more than half a call's time (``mean_call_s``, the lane's running mean) spread
    over its concurrency ``limit``, so the spacing never holds a lane below the rate its
    limit allows; before any call has ended, a first wave of ``limit`` calls is spread over
    at most FIRST_WAVE_S."""
    if mean_call_s is None:
        return min(START_GAP_S, FIRST_WAVE_S / limit)
    return min(START_GAP_S, mean_call_s / (2 * limit))


def on_lane_thread() -> bool:
    """Whether the calling thread is a lane's (where nothing may block or run a loop)."""
    return threading.current_thread().name.startswith(THREAD_PREFIX)


class Lane:
    """One provider's loop thread. ``start(job, lane)`` makes the coroutine of one call;
    ``drop(job)`` ends a job that will never start, which is every waiting job once
    ``halted()`` says so (the run was interrupted or is closing)."""

    def __init__(
        self,
        name: str,
        limit: int,
        cap: int,
        start: Callable[[Job, Lane], Coroutine[Any, Any, None]],
        drop: Callable[[Job], None],
        halted: Callable[[], bool],
    ) -> None:
        self.name = name
        self.limit = limit
        self._cap = cap
        self._start = start
        self._drop = drop
        self._halted = halted
        self.stalls = StallLog()
        #: Wake-up lag samples (ms) taken while this lane had calls to make.
        self.lag_ms: list[float] = []
        #: When the watcher's current wake-up is due (None while it is not sleeping).
        self.lag_due: float | None = None
        #: Calls handed to this lane and not yet ended (backlog and running), and ended.
        self._open = 0
        self._ended = 0
        self._backlog: collections.deque[Job] = collections.deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._semaphore: asyncio.Semaphore | None = None
        #: When take_turn lets the next call go, and the mean time of this lane's calls.
        self._next_start = 0.0
        self._mean_call_s: float | None = None
        self._selector = _WatchedSelector()
        self.loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop(self._selector)
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._serve, args=(ready,), name=THREAD_PREFIX + name, daemon=True
        )
        self.thread.start()
        ready.wait()

    # -- from any thread -------------------------------------------------------------

    @property
    def quiet(self) -> bool:
        """The loop waits for I/O with no callback ready (or has no call open)."""
        return self._open == 0 or self._selector.waiting

    def add(self, jobs: list[Job]) -> None:
        """Queue calls; they start on the lane's loop as slots free up."""
        self.loop.call_soon_threadsafe(self._add, jobs)

    def stop(self, shutdown: Callable[[], Coroutine[Any, Any, None]], timeout: float) -> bool:
        """Drop the backlog, cancel running calls, run ``shutdown`` (closing the clients that
        live on this loop), then end the thread. False if that did not finish in time."""
        import concurrent.futures

        finished = True
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(shutdown), self.loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            finished = False
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=timeout)
        if not self.loop.is_running():
            self.loop.close()
        return finished

    # -- on the lane's loop ----------------------------------------------------------

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """The provider's concurrency limit (made on the loop that uses it)."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.limit)
        return self._semaphore

    def _serve(self, ready: threading.Event) -> None:
        from harness.run.signals import main_thread_only

        main_thread_only()
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        watcher = self.loop.create_task(self._watch_lag())
        self._tasks.add(watcher)
        self.loop.run_forever()

    def _add(self, jobs: list[Job]) -> None:
        self._open += len(jobs)
        self._backlog.extend(jobs)
        self._pump()

    def _pump(self) -> None:
        """Start calls from the backlog while fewer than ``cap`` run. A task per submitted
        call would hold thousands of coroutines (and their memory) waiting on the semaphore;
        the backlog holds plain tuples."""
        while self._backlog and self._running < self._cap:
            if self._halted():
                while self._backlog:
                    self._end_unstarted(self._backlog.popleft())
                return
            job = self._backlog.popleft()
            self._running += 1
            task = self.loop.create_task(self._start(job, self))
            self._tasks.add(task)
            task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._running -= 1
        self._open -= 1
        self._ended += 1
        self._pump()

    def _end_unstarted(self, job: Job) -> None:
        self._open -= 1
        self._ended += 1
        self._drop(job)

    async def _watch_lag(self) -> None:
        """Sample how late this loop wakes up while it has calls to make.

        A call is timed on this loop, so when the loop cannot run (its thread waits for the
        GIL, or a callback blocks it) an answer that has arrived waits before it is timed.
        The stall is recorded, reported beside the latencies and subtracted nowhere: each
        call says how much of it overlapped its window (``stall_ms``).
        """
        while True:
            busy_before, ended_before = self._open > 0, self._ended
            due = self.lag_due = time.perf_counter() + LAG_SAMPLE_S
            await asyncio.sleep(LAG_SAMPLE_S)
            woke = time.perf_counter()
            self.lag_due = None
            # Open at either end, or some ended in between (then they were open while the
            # loop was late, even if all are done by now).
            if busy_before or self._open > 0 or self._ended != ended_before:
                self.stalls.add(due, woke)
                if len(self.lag_ms) < MAX_LAG_SAMPLES:
                    self.lag_ms.append(max(0.0, (woke - due) * 1000))

    async def take_turn(self) -> None:
        """Space the calls this lane sends: wait, if need be, until a gap after the time
        given to the previous call (the caller, holding the call's slot, counts the wait as
        queueing). The times are given in order, from a schedule: a wake-up that comes late
        does not push back the calls after it, so spacing never adds up to a slower lane.

        Calls released together (the first wave, or the slots a burst of answers freed) were
        all sent at once, and each one's timing window took in the others' request building
        and connection setup on the one GIL: 16 calls on four lanes at once carried 50-100
        ms of stall each. Spaced (start_gap), each is sent before the next is built, and
        their answers come back spaced too."""
        gap = start_gap(self.limit, self._mean_call_s)
        now = time.perf_counter()
        at = max(now, self._next_start)
        self._next_start = at + gap
        if at > now:
            await asyncio.sleep(at - now)

    def call_took(self, seconds: float) -> None:
        """A call of this lane ended after ``seconds`` on the wire (its running mean sets
        take_turn's gap)."""
        if self._mean_call_s is None:
            self._mean_call_s = seconds
        else:
            self._mean_call_s += (seconds - self._mean_call_s) * MEAN_WEIGHT

    def stall_ms(self, sent: float) -> float:
        """Milliseconds of this loop's stall between ``sent`` and now (a call's window)."""
        return self.stalls.overlap_ms(sent, time.perf_counter(), self.lag_due)

    async def _shutdown(self, close_clients: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while self._backlog:
            self._end_unstarted(self._backlog.popleft())
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await close_clients()


def merged_lag(lanes: list[Lane]) -> dict[str, float] | None:
    """p50 / p95 / max of every lane's wake-up lag (ms) and the longest single stall."""
    samples = sorted(s for lane in lanes for s in lane.lag_ms)
    if not samples:
        return None

    def at(q: float) -> float:
        return round(percentile(samples, q * 100) or 0.0, 1)  # the one definition

    return {
        "p50": at(0.5),
        "p95": at(0.95),
        "max": at(1.0),
        "samples": len(samples),
        # The longest stall (merged wake-ups): one 2 s stall hides under any percentile.
        "largest_stall_ms": round(max(lane.stalls.largest_ms for lane in lanes), 1),
    }
