"""Runner scheduling logic with an in-memory provider: retries, queue time vs latency,
auth short-circuit, budget, cache. (Adapters are tested through the simulator elsewhere.)"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import providers
from harness.calls.cache import CacheMode, ResponseCache
from harness.calls.retry import RetryPolicy
from harness.calls.runner import Runner, RunnerSettings
from harness.errors import AuthError, BudgetExceeded, CacheMiss, RateLimited, TransientError
from harness.suite.targets import TargetSpec
from harness.types import Completion, Message, Request, Usage


class FakeProvider:
    name = "fake"
    api_key_env = None
    extra = "fake"

    def __init__(self) -> None:
        self.calls = 0
        self.script: list[Exception | None] = []
        self.delay_s = 0.0
        self.active = 0
        self.max_active = 0

    def check(self, request: Request) -> None:
        return None

    async def complete(self, request: Request) -> Completion:
        self.calls += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            started = time.perf_counter()
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.script:
                fault = self.script.pop(0)
                if fault is not None:
                    raise fault
            return Completion(
                text=f"echo {request.messages[-1].content} r{request.repeat}",
                usage=Usage(input_tokens=1000, output_tokens=500),
                model=request.model,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        finally:
            self.active -= 1

    async def aclose(self) -> None:
        return None


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    instance = FakeProvider()
    module = types.ModuleType("harness_test_fake_provider")
    module.create = lambda settings: instance  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(
        providers.PROVIDERS,
        "fake",
        providers.ProviderInfo("fake", module.__name__, None, None, "fake", None),
    )
    yield instance


TARGET = TargetSpec(id="fake:m", provider="fake", model="gpt-4o-mini")
#: The fake provider is priced like gpt-4o-mini through a configuration override.
FAKE_PRICES = {
    "fake": {"gpt-4o-mini": {"input": 0.15, "output": 0.60, "source": "test", "date": "2026-11-24"}}
}


def request(text: str = "hi", repeat: int = 0) -> Request:
    return Request(
        provider="fake",
        model="gpt-4o-mini",
        messages=(Message("user", text),),
        max_tokens=10,
        timeout_s=5,
        repeat=repeat,
    )


def make_runner(tmp_path: Path, mode: CacheMode = CacheMode.USE, **kw: object) -> Runner:
    kw.setdefault("price_overrides", FAKE_PRICES)
    settings = RunnerSettings(retry=RetryPolicy(base_s=0.001, max_backoff_s=0.01), seed=1, **kw)  # type: ignore[arg-type]
    return Runner(settings, ResponseCache(tmp_path / "cache", mode))


def test_retries_are_counted_and_bounded(tmp_path: Path, fake: FakeProvider) -> None:
    runner = make_runner(tmp_path)
    try:
        fake.script = [TransientError("500"), RateLimited("429", retry_after_s=0.01), None]
        outcome = runner.run(TARGET, request())
        assert outcome.error is None and outcome.retries == 2 and fake.calls == 3
        fake.script = [TransientError("500")] * 10
        outcome = runner.run(TARGET, request("again"))
        assert isinstance(outcome.error, TransientError)
        assert outcome.retries == 4 and "after 4 retries" in str(outcome.error)
    finally:
        runner.close()


def test_second_identical_call_is_replayed_and_repeats_are_distinct(
    tmp_path: Path, fake: FakeProvider
) -> None:
    runner = make_runner(tmp_path)
    try:
        first = runner.run(TARGET, request())
        again = runner.run(TARGET, request())
        other_sample = runner.run(TARGET, request(repeat=1))
    finally:
        runner.close()
    assert fake.calls == 2
    assert not first.cached and again.cached and not other_sample.cached
    assert again.completion == first.completion
    # gpt-4o-mini: 1000 in x 0.15 + 500 out x 0.60 per million
    assert first.cost_usd == pytest.approx(0.00045)
    assert again.cost_usd == 0.0 and again.cost_if_live_usd == pytest.approx(0.00045)


def test_replay_mode_never_calls(tmp_path: Path, fake: FakeProvider) -> None:
    runner = make_runner(tmp_path, CacheMode.REPLAY)
    try:
        outcome = runner.run(TARGET, request())
    finally:
        runner.close()
    assert isinstance(outcome.error, CacheMiss) and fake.calls == 0


def test_queue_time_is_reported_apart_from_latency(tmp_path: Path, fake: FakeProvider) -> None:
    fake.delay_s = 0.05
    runner = make_runner(tmp_path, concurrency=2)
    try:
        futures = runner.submit_many([(TARGET, request(str(i))) for i in range(6)])
        outcomes = [f.result() for f in futures]
    finally:
        runner.close()
    assert fake.max_active == 2
    # Each call's own latency is about one delay; the later ones waited for a slot.
    assert all(o.completion is not None for o in outcomes)
    latencies = [o.completion.latency_ms for o in outcomes if o.completion]
    queued = [o.queue_ms for o in outcomes]
    assert max(queued) > max(latencies)  # the last pair waited ~2 calls' worth
    assert min(queued) < min(latencies)  # the first pair started at once


def test_auth_failure_stops_further_calls(tmp_path: Path, fake: FakeProvider) -> None:
    runner = make_runner(tmp_path, concurrency=1)
    try:
        fake.script = [AuthError("401 bad key", provider="fake", status=401)]
        outcomes = [
            f.result() for f in runner.submit_many([(TARGET, request(str(i))) for i in range(5)])
        ]
    finally:
        runner.close()
    assert fake.calls == 1
    assert all(isinstance(o.error, AuthError) for o in outcomes)
    assert "earlier call failed authentication" in str(outcomes[-1].error)


def test_budget_stops_new_calls(tmp_path: Path, fake: FakeProvider) -> None:
    # Each call may cost up to 10 output tokens + ~1 input token: tiny; a budget far below
    # what two calls actually cost lets the first through and stops later ones.
    runner = make_runner(tmp_path, concurrency=1, budget_usd=0.0005)
    try:
        outcomes = [runner.run(TARGET, request(str(i))) for i in range(3)]
    finally:
        runner.close()
    assert outcomes[0].error is None
    assert any(isinstance(o.error, BudgetExceeded) for o in outcomes[1:])
    assert fake.calls < 3


def test_retry_policy_honours_retry_after_and_time_bound() -> None:
    rng = random.Random(0)
    policy = RetryPolicy(max_retries=5, max_total_s=10)
    wait = policy.delay(RateLimited("429", retry_after_s=3), 0, 0.0, rng)
    assert wait is not None and 3 <= wait <= 3.4
    assert policy.delay(RateLimited("429", retry_after_s=30), 0, 0.0, rng) is None
    assert policy.delay(TransientError("x"), 5, 0.0, rng) is None
    backoffs = [policy.delay(TransientError("x"), n, 0.0, rng) for n in range(4)]
    assert all(
        b is not None and 0.5 * 0.5 * 2**n <= b <= 0.5 * 2**n for n, b in enumerate(backoffs)
    )
    assert policy.delay(AuthError("401"), 0, 0.0, rng) is None


def test_close_restores_the_interpreter_switch_interval(tmp_path: Path, fake: FakeProvider) -> None:
    before = sys.getswitchinterval()
    runner = make_runner(tmp_path)
    try:
        runner.run(TARGET, request())
        assert sys.getswitchinterval() <= 0.001  # lowered while the loop thread runs
    finally:
        runner.close()
    assert sys.getswitchinterval() == before


def test_loop_lag_is_measured_while_calls_are_in_flight(
    tmp_path: Path, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = fake.complete

    async def blocking(request: Request) -> Completion:
        time.sleep(0.2)  # a CPU-bound client: the loop cannot wake anyone for 200 ms
        return await original(request)

    monkeypatch.setattr(fake, "complete", blocking)
    runner = make_runner(tmp_path)
    try:
        assert runner.loop_lag() is None
        for f in runner.submit_many([(TARGET, request(str(i))) for i in range(4)]):
            f.result()
        # The calls can end before the watcher's next wake-up, which takes the sample.
        deadline = time.monotonic() + 5
        while (lag := runner.loop_lag()) is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        runner.close()
    assert lag is not None and lag["max"] >= 100


def test_preload_keeps_at_most_its_limit_and_still_answers_every_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.calls.cache as cache_module

    monkeypatch.setattr(cache_module, "PRELOAD_LIMIT", 2)
    cache = ResponseCache(tmp_path / "c", CacheMode.USE)
    for i in range(5):
        cache.put(f"k{i}", Completion(text=f"answer {i}"), 0.001)
    assert [cache.preload(f"k{i}") for i in range(5)] == [True] * 5
    assert cache.preload("missing") is False
    assert len(cache._preloaded) == 2  # the rest were only checked
    for i in range(5):
        hit = cache.get(f"k{i}")
        assert hit is not None and hit[0].text == f"answer {i}"
    cache.close()


def test_the_cache_keeps_a_small_sqlite_page_cache_and_no_map_even_in_a_db_made_with_the_default(
    tmp_path: Path,
) -> None:
    import diskcache

    import harness.calls.cache as cache_module
    from harness.calls.cachedisk import DataDisk

    folder = tmp_path / "c"
    # A db written with diskcache's default page cache (8192 pages: 32 MB per connection).
    diskcache.Cache(str(folder), disk=DataDisk, cull_limit=0).close()
    cache = ResponseCache(folder, CacheMode.USE)
    cache.put("k", Completion(text="answer"), 0.001)
    (pages,) = cache._cache._sql("PRAGMA cache_size").fetchone()
    assert pages == cache_module.SQLITE_CACHE_PAGES < 8192
    # Nor is the file mapped into memory (diskcache maps 64 MB of it by default): pages read
    # through a mapping count in the process's resident size.
    (mapped,) = cache._cache._sql("PRAGMA mmap_size").fetchone()
    assert mapped == cache_module.SQLITE_MMAP_BYTES == 0
    hit = cache.get("k")
    assert hit is not None and hit[0].text == "answer"
    cache.close()
