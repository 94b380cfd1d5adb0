"""Honest timing in the runner: providers are built before any call is timed, the loop stall
inside each call's window is recorded as ``stall_ms``, and a latency verdict says when a
stall could explain its miss. Stall bookkeeping is tested on hand-made intervals; the runner
with a deliberately blocked loop, asserting the recorded overlap against the measured block.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import providers
from harness.calls.cache import CacheMode, ResponseCache
from harness.calls.runner import LAG_SAMPLE_S, Runner, RunnerSettings
from harness.calls.stalls import MIN_STALL_MS, StallLog
from harness.scoring.base import ScoreContext
from harness.scoring.metrics import latency
from harness.suite.targets import TargetSpec
from harness.types import Completion, Message, Request

# -- StallLog: pure interval arithmetic --------------------------------------------------


def test_overlap_counts_only_the_part_of_each_stall_inside_the_window() -> None:
    log = StallLog()
    log.add(1.0, 1.5)  # 500 ms
    log.add(2.0, 2.1)  # 100 ms
    log.add(5.0, 7.0)  # 2 s
    assert log.overlap_ms(0.0, 10.0) == pytest.approx(2600.0)
    assert log.overlap_ms(1.2, 2.05) == pytest.approx(300.0 + 50.0)
    assert log.overlap_ms(1.5, 2.0) == 0.0  # between stalls
    assert log.overlap_ms(6.0, 6.5) == pytest.approx(500.0)  # inside one stall
    assert log.overlap_ms(8.0, 9.0) == 0.0
    assert log.largest_ms == pytest.approx(2000.0)


def test_jitter_below_the_threshold_is_not_a_stall() -> None:
    log = StallLog()
    tiny = (MIN_STALL_MS / 2) / 1000
    for i in range(100):
        log.add(i * 0.01, i * 0.01 + tiny)
    assert len(log) == 0
    assert log.overlap_ms(0.0, 1.0) == 0.0


def test_an_overlapping_stall_is_merged_and_counted_once() -> None:
    log = StallLog()
    log.add(1.0, 2.0)
    log.add(1.5, 3.0)
    assert len(log) == 1
    assert log.overlap_ms(0.0, 5.0) == pytest.approx(2000.0)
    assert log.largest_ms == pytest.approx(2000.0)


def test_a_stall_the_watcher_has_not_recorded_yet_still_counts() -> None:
    log = StallLog()
    log.add(1.0, 1.2)
    # The watcher was due at 3.0 and has not woken: the loop has been stalled since then.
    assert log.overlap_ms(2.5, 4.0, open_since=3.0) == pytest.approx(1000.0)
    assert log.overlap_ms(0.5, 4.0, open_since=3.0) == pytest.approx(200.0 + 1000.0)
    # Due a moment ago (ordinary scheduling): no stall.
    assert log.overlap_ms(2.5, 3.0005, open_since=3.0) == 0.0


# -- the runner ----------------------------------------------------------------------------


class Recorder:
    """A provider module whose build and calls append to one event list."""

    def __init__(self, name: str, events: list[tuple[str, str, str]]) -> None:
        self.name = name
        self.events = events
        self.block_s = 0.0
        self.delay_s = 0.0
        self.blocked: list[float] = []
        #: When set, a "block" call holds its loop until this event instead of block_s.
        self.release: threading.Event | None = None
        self.blocking = threading.Event()
        #: When each call reached the provider (time.perf_counter()).
        self.sent_at: list[float] = []

    def create(self, settings: object) -> Recorder:
        # A slow SDK import and client construction; where it runs is recorded.
        time.sleep(0.05)
        self.events.append(("build", self.name, threading.current_thread().name))
        return self

    api_key_env = None
    extra = "fake"

    def check(self, request: Request) -> None:
        return None

    async def complete(self, request: Request) -> Completion:
        self.events.append(("call", self.name, threading.current_thread().name))
        started = time.perf_counter()
        self.sent_at.append(started)
        if self.block_s and request.messages[0].content == "block":
            await asyncio.sleep(0.05)  # let the other calls start first
            t0 = time.perf_counter()
            self.blocking.set()
            if self.release is not None:
                self.release.wait(10)
            else:
                time.sleep(self.block_s)  # blocks the loop: a CPU-bound client
            self.blocked.append((time.perf_counter() - t0) * 1000)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return Completion(text="ok", latency_ms=(time.perf_counter() - started) * 1000)

    async def aclose(self) -> None:
        return None


@pytest.fixture
def recorders(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Recorder]]:
    events: list[tuple[str, str, str]] = []
    made = {}
    for name in ("slow_a", "slow_b"):
        rec = made[name] = Recorder(name, events)
        module = types.ModuleType(f"harness_test_{name}")
        module.create = rec.create  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
        monkeypatch.setitem(
            providers.PROVIDERS,
            name,
            providers.ProviderInfo(name, module.__name__, None, None, "fake", None),
        )
    yield made


def _request(provider: str, text: str) -> Request:
    return Request(
        provider=provider,
        model="m",
        messages=(Message("user", text),),
        max_tokens=10,
        timeout_s=10,
    )


def _runner(tmp_path: Path) -> Runner:
    return Runner(RunnerSettings(), ResponseCache(tmp_path / "cache", CacheMode.OFF))


def test_every_provider_is_built_off_the_loop_before_the_first_call(
    tmp_path: Path, recorders: dict[str, Recorder]
) -> None:
    a = TargetSpec(id="slow_a:m", provider="slow_a", model="m")
    b = TargetSpec(id="slow_b:m", provider="slow_b", model="m")
    recorders["slow_a"].delay_s = 0.01
    runner = _runner(tmp_path)
    try:
        calls = [(t, _request(t.provider, str(i))) for i in range(5) for t in (a, b)]
        outcomes = [f.result() for f in runner.submit_many(calls)]
    finally:
        runner.close()
    assert all(o.error is None for o in outcomes)
    events = recorders["slow_a"].events
    kinds = [kind for kind, _, _ in events]
    assert kinds[:2] == ["build", "build"] and kinds[2:] == ["call"] * 10
    here = threading.current_thread().name
    assert {thread for kind, _, thread in events if kind == "build"} == {here}
    # Each provider's calls run on its own lane.
    assert {(name, thread) for kind, name, thread in events if kind == "call"} == {
        ("slow_a", "llm-harness-calls-slow_a"),
        ("slow_b", "llm-harness-calls-slow_b"),
    }


def test_prepare_refuses_to_run_on_the_loop(tmp_path: Path, recorders: dict[str, Recorder]) -> None:
    runner = _runner(tmp_path)
    target = TargetSpec(id="slow_a:m", provider="slow_a", model="m")
    try:
        runner.run(target, _request("slow_a", "x"))
        loop = runner._lane("slow_a").loop

        async def on_loop() -> None:
            runner.prepare([target])

        with pytest.raises(RuntimeError, match="loop thread"):
            asyncio.run_coroutine_threadsafe(on_loop(), loop).result(timeout=10)
    finally:
        runner.close()


def test_the_stall_inside_a_call_is_recorded_on_its_completion(
    tmp_path: Path, recorders: dict[str, Recorder]
) -> None:
    # slow_a's calls wait 0.6 s on the network; meanwhile one more slow_a call blocks their
    # loop for 0.3 s. Every waiting call was in flight during the whole block.
    a = TargetSpec(id="slow_a:m", provider="slow_a", model="m")
    recorders["slow_a"].delay_s = 0.6
    recorders["slow_a"].block_s = 0.3
    runner = _runner(tmp_path)
    try:
        futures = runner.submit_many(
            [(a, _request("slow_a", str(i))) for i in range(3)] + [(a, _request("slow_a", "block"))]
        )
        outcomes = [f.result() for f in futures[:3]]
        lag = runner.loop_lag()
    finally:
        runner.close()
    (blocked_ms,) = recorders["slow_a"].blocked
    # The watcher sees a stall from its first wake-up due inside it: at most one sampling
    # interval is missed. Other stalls on a busy machine only add to the overlap.
    floor = blocked_ms - LAG_SAMPLE_S * 1000 - MIN_STALL_MS
    for outcome in outcomes:
        completion = outcome.completion
        assert completion is not None
        assert floor <= completion.stall_ms <= completion.latency_ms + LAG_SAMPLE_S * 1000
    assert lag is not None and lag["largest_stall_ms"] >= floor


def test_a_provider_that_blocks_its_loop_does_not_stall_another_providers_calls(
    tmp_path: Path, recorders: dict[str, Recorder]
) -> None:
    # slow_b's client blocks its loop for 1 s (a CPU-bound SDK); slow_a's calls, 50 ms on
    # the network, run on their own lane meanwhile: neither their latency nor their
    # stall_ms carries slow_b's block (on one shared loop both were ~1 s).
    a = TargetSpec(id="slow_a:m", provider="slow_a", model="m")
    b = TargetSpec(id="slow_b:m", provider="slow_b", model="m")
    recorders["slow_a"].delay_s = 0.05
    recorders["slow_b"].block_s = 1.0
    runner = _runner(tmp_path)
    try:
        blocker = runner.submit(b, _request("slow_b", "block"))
        while not recorders["slow_b"].events or recorders["slow_b"].events[-1][0] != "call":
            time.sleep(0.01)
        time.sleep(0.1)  # slow_b's call is inside its block now
        outcomes = [f.result() for f in runner.submit_many(
            [(a, _request("slow_a", str(i))) for i in range(3)])]
        blocker.result()
    finally:
        runner.close()
    (blocked_ms,) = recorders["slow_b"].blocked
    for outcome in outcomes:
        completion = outcome.completion
        assert completion is not None
        assert completion.latency_ms < blocked_ms / 2
        assert completion.stall_ms < blocked_ms / 2


def test_a_call_with_no_stall_in_its_window_records_none(
    tmp_path: Path, recorders: dict[str, Recorder]
) -> None:
    a = TargetSpec(id="slow_a:m", provider="slow_a", model="m")
    b = TargetSpec(id="slow_b:m", provider="slow_b", model="m")
    recorders["slow_b"].block_s = 0.3
    runner = _runner(tmp_path)
    try:
        blocker = runner.run(b, _request("slow_b", "block"))  # a stall, before the next call
        outcome = runner.run(a, _request("slow_a", "after"))
    finally:
        runner.close()
    assert blocker.completion is not None and outcome.completion is not None
    (blocked_ms,) = recorders["slow_b"].blocked
    assert blocker.completion.stall_ms >= blocked_ms - LAG_SAMPLE_S * 1000 - MIN_STALL_MS
    # The earlier block is not charged to the later call (what remains is machine noise).
    assert outcome.completion.stall_ms < blocked_ms - LAG_SAMPLE_S * 1000 - MIN_STALL_MS


# -- the latency assertion -----------------------------------------------------------------


def _ctx(latency_ms: float, stall_ms: float) -> ScoreContext:
    completion = Completion(text="x", latency_ms=latency_ms, stall_ms=stall_ms)
    return ScoreContext(output="x", completion=completion, latency_ms=latency_ms)


def test_a_latency_miss_smaller_than_the_stall_says_timing_is_unreliable() -> None:
    score = latency(_ctx(2100.0, 1900.0), {"max_ms": 1000})
    assert not score.passed
    assert "timing unreliable: 1.9 s client stall" in score.reason


def test_a_latency_miss_larger_than_the_stall_is_plain() -> None:
    score = latency(_ctx(3000.0, 250.0), {"max_ms": 1000})
    assert not score.passed
    assert "unreliable" not in score.reason
    assert "unreliable" not in latency(_ctx(1200.0, 0.0), {"max_ms": 1000}).reason
    passed = latency(_ctx(900.0, 500.0), {"max_ms": 1000})
    assert passed.passed and "unreliable" not in passed.reason


def test_a_sub_second_stall_is_shown_in_ms() -> None:
    score = latency(_ctx(1300.0, 450.0), {"max_ms": 1000})
    assert "timing unreliable: 450 ms client stall" in score.reason


_SUITE = """\
name: {name}
cases:
  - {{id: one, vars: {{x: "1"}}}}
  - {{id: two, vars: {{x: "2"}}}}
targets: [{target}]
temperatures: [null]
prompt: {{user: "Echo {{{{ x }}}}"}}
max_tokens: 5
"""


@pytest.mark.parametrize("write", [False, True], ids=["backend-chosen", "worker-undecided"])
def test_a_later_suites_provider_is_built_before_the_first_suites_calls(
    tmp_path: Path, recorders: dict[str, Recorder], write: bool
) -> None:
    from harness.config import Settings
    from harness.run.session import RunSession
    from harness.suite.loader import load_suite

    suites = []
    for name, target in (("first", "slow_a:m"), ("second", "slow_b:m")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(_SUITE.format(name=name, target=target))
        suites.append(load_suite(path).cells((), None))
    settings = Settings(
        rootdir=tmp_path, cache_dir=tmp_path / "cache", cache=CacheMode.OFF, out=tmp_path / "run"
    )
    session = RunSession(settings, write=write)
    try:
        for cells in suites:  # collection
            session.note_cells(cells)
        for cells in suites:  # the run: each suite's calls submitted at its first cell
            session.prefetch((c, c.case.id) for c in cells)
            for cell in cells:
                assert session.evaluate(cell, cell.case.id).result.status == "passed"
    finally:
        session.close()
    kinds = [(kind, name) for kind, name, _ in recorders["slow_a"].events]
    first_call = kinds.index(("call", "slow_a"))
    assert {("build", "slow_a"), ("build", "slow_b")} <= set(kinds[:first_call])


def test_a_cached_entry_with_timing_that_is_not_a_number_is_a_miss(tmp_path: Path) -> None:
    # Cache folders are data others may write: a crafted stall_ms must cost a call, not
    # crash the record (it is rounded when the result is filled).
    cache = ResponseCache(tmp_path / "cache", CacheMode.USE)
    try:
        good = Completion(text="ok", latency_ms=120.0, stall_ms=15.0, provider_ms=90.0)
        assert cache.put("k", good, 0.0)
        hit = cache.get("k")
        assert hit is not None and (hit[0].stall_ms, hit[0].provider_ms) == (15.0, 90.0)
        for field, bad in (("stall_ms", "slow"), ("provider_ms", [1])):
            entry = dict(cache._cache.get("k"))  # type: ignore[union-attr]
            entry["completion"] = {**entry["completion"], field: bad}
            cache._cache.set("k2", entry)  # type: ignore[union-attr]
            assert cache.get("k2") is None
        assert any("unknown format" in line for line in cache.problems)
    finally:
        cache.close()


def test_a_lane_is_quiet_only_while_its_loop_waits_for_io() -> None:
    from harness.calls.lanes import Lane

    inside, release = threading.Event(), threading.Event()

    async def call(job: tuple[str, ...], lane: Lane) -> None:
        if job[0] == "block":
            inside.set()
            release.wait(10)  # a callback holding the loop (an SDK parsing an answer)
        else:
            await asyncio.sleep(10)  # an answer not yet arrived

    lane = Lane("t", limit=2, cap=2, start=call, drop=lambda job: None, halted=lambda: False)

    async def nothing() -> None:
        return None

    try:
        assert lane.quiet  # no call open
        lane.add([("wait",)])
        deadline = time.monotonic() + 10
        while not lane.quiet and time.monotonic() < deadline:
            time.sleep(0.001)
        assert lane.quiet  # its one call waits for I/O
        lane.add([("block",)])
        assert inside.wait(10)
        assert not lane.quiet  # the loop runs a callback
        release.set()
    finally:
        release.set()
        lane.stop(nothing, timeout=10)


def test_giving_way_to_a_busy_lane_is_bounded(
    tmp_path: Path, recorders: dict[str, Recorder]
) -> None:
    # The scoring thread waits for the lanes to have nothing ready, but never for longer
    # than it was told: a lane busy until released does not hold it.
    b = TargetSpec(id="slow_b:m", provider="slow_b", model="m")
    recorder = recorders["slow_b"]
    recorder.block_s = 1.0
    recorder.release = threading.Event()
    runner = _runner(tmp_path)
    try:
        blocker = runner.submit(b, _request("slow_b", "block"))
        assert recorder.blocking.wait(10)
        runner.give_way(0.01)
        assert not blocker.done()  # the lane was still busy when it gave up waiting
        recorder.release.set()
        assert blocker.result(timeout=10).completion is not None
        runner.give_way()  # quiet now: nothing to wait for
    finally:
        recorder.release.set()
        runner.close()


def test_recording_a_cell_first_gives_way_to_calls_timed_in_this_process(
    tmp_path: Path,
) -> None:
    # Without a worker, pytest's thread writes each cell's line while other calls are timed
    # on the lanes; an answer waiting to be read meanwhile was timed as provider latency.
    from harness.config import Settings
    from harness.run.session import RunSession
    from harness.types import Result

    session = RunSession(Settings(rootdir=tmp_path, out=tmp_path / "run"))
    lines_when_giving_way: list[int] = []

    class Backend:
        in_worker = False

        def give_way(self) -> None:
            jsonl = session.out_dir / "results.jsonl"
            lines_when_giving_way.append(
                len(jsonl.read_text().splitlines()) if jsonl.exists() else 0
            )

        def close(self) -> None:
            pass

    session.backend = Backend()  # type: ignore[assignment]
    try:
        for case in ("a", "b"):
            session.record(Result(run_id="r", suite="s", case_id=case, target="t:m",
                                  provider="t", model="m", temperature=None, repeat=0,
                                  status="passed", passed=True))
    finally:
        session.close()
    assert lines_when_giving_way == [0, 1]  # before each line is written


def test_the_gap_between_a_lanes_calls_never_holds_it_below_its_limit() -> None:
    from harness.calls.lanes import FIRST_WAVE_S, START_GAP_S, start_gap

    assert start_gap(4, 0.1) == START_GAP_S  # 100 ms calls, 4 at a time: 6 ms apart
    # Fast calls or a high limit: at most half a call's time for the whole limit, so the
    # lane can still send `limit` calls per call time twice over.
    assert start_gap(200, 0.1) == pytest.approx(0.1 / 400)
    assert start_gap(16, 0.1) == pytest.approx(0.1 / 32)
    assert start_gap(4, 0.001) == pytest.approx(0.001 / 8)
    # Nothing has ended yet: the first wave is spread over at most FIRST_WAVE_S.
    assert start_gap(200, None) == pytest.approx(FIRST_WAVE_S / 200)
    assert start_gap(1, None) == START_GAP_S


def test_calls_released_together_are_sent_spaced_and_the_wait_is_queueing(
    tmp_path: Path, recorders: dict[str, Recorder]
) -> None:
    # Sent all at once, each call's window took in the others' request building: 16 calls
    # on four lanes carried 50-100 ms of stall each. The spacing is waited for before the
    # clock starts, so it shows as queue_ms, never as latency.
    from harness.calls.lanes import start_gap

    target = TargetSpec(id="slow_a:m", provider="slow_a", model="m")
    recorders["slow_a"].delay_s = 0.05  # none ends before all have started
    runner = _runner(tmp_path)
    try:
        futures = runner.submit_many((target, _request("slow_a", f"q{i}")) for i in range(6))
        outcomes = [f.result(timeout=10) for f in futures]
    finally:
        runner.close()
    sent = sorted(recorders["slow_a"].sent_at)
    gap = start_gap(runner.settings.concurrency, None)
    assert len(sent) == 6
    # In order, and spread over five gaps at least (each call's time comes from a
    # schedule, so one whose wake-up came late may go less than a gap before the next).
    assert all(b > a for a, b in itertools.pairwise(sent)), sent
    assert sent[-1] - sent[0] >= 5 * gap * 0.95, sent
    queued = sorted(o.queue_ms for o in outcomes)
    assert queued[-1] >= 5 * gap * 1000 * 0.95  # the last one waited for five turns
