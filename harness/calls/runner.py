"""The scheduler: runs provider calls concurrently, each provider on its own event loop.

Callers (pytest items, the library API, judges) submit (target, request) pairs and get a
concurrent.futures.Future of a CallOutcome. The runner:
- answers from the cache when it can (synchronously: a hit costs no thread hop);
- runs each provider's calls on a lane of its own (harness.calls.lanes: a loop on its own
  thread), so one SDK's CPU is never timed as another provider's latency;
- limits concurrency per provider; the time a call waits for a slot is reported as
  ``queue_ms`` and is never part of the provider latency (adapters time from send);
- retries once, here, under one RetryPolicy (SDK retries are off), counting every retry;
- enforces the USD budget with in-flight reservations;
- stops calling a provider after an auth failure instead of failing every cell slowly;
- prices each live completion and hands it to the cache, whose writes happen on a thread
  of their own (harness.calls.cachewriter), never on a loop that times calls;
- builds every provider a batch of calls needs (SDK import, client, one rehearsal call
  answered in memory: harness.providers.rehearsal) in the submitting thread before it
  releases the batch to the loops (``prepare``), so no call in flight is timed while the
  harness imports an SDK or the SDK warms up; then freezes the heap (gc.freeze) so the cyclic
  collector's full passes no longer walk the SDKs' thousands of classes while calls run;
- records, per call, how much stall of its lane's loop overlapped its timing window
  (``stall_ms``, see harness.calls.stalls).
No pytest import: the plugin, the CLI and the library API all drive the same runner.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import logging
import random
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.calls.cache import ResponseCache, cache_key
from harness.calls.cachewriter import CacheWriter
from harness.calls.lanes import LAG_SAMPLE_S, Job, Lane, merged_lag, on_lane_thread
from harness.calls.outcome import CallOutcome, Progress
from harness.calls.retry import RetryPolicy
from harness.errors import (
    AuthError,
    BudgetExceeded,
    CacheMiss,
    HarnessError,
    ProviderError,
    TransientError,
    Unsupported,
)
from harness.providers import PROVIDERS, create_provider
from harness.providers.base import Provider, ProviderSettings
from harness.providers.rehearsal import rehearse
from harness.suite.targets import TargetSpec
from harness.types import Completion, Request

log = logging.getLogger("harness.calls.runner")

DEFAULT_CONCURRENCY = 16
#: Providers with a cap of their own on calls in flight (ProviderInfo.max_concurrency).
SERIAL_PROVIDERS = {n: i.max_concurrency for n, i in PROVIDERS.items() if i.max_concurrency}
__all__ = ["LAG_SAMPLE_S", "CallOutcome", "Progress", "Runner", "RunnerSettings"]

#: GIL switch interval while the runner's lanes are alive (see _lane).
SWITCH_INTERVAL_S = 0.001
#: Calls started per provider at most, as a multiple of its concurrency limit; the rest
#: wait in the lane's backlog (harness.calls.lanes).
TASKS_PER_SLOT = 2
#: How long the scoring thread waits at most for the lanes to have nothing ready (give_way),
#: and how often it looks.
GIVE_WAY_MAX_S = 0.02
GIVE_WAY_POLL_S = 0.0005
#: Slack over the per-call timeout before the runner abandons a call the SDK did not end.
TIMEOUT_GRACE_S = 5.0


@dataclass(frozen=True)
class RunnerSettings:
    concurrency: int = DEFAULT_CONCURRENCY
    budget_usd: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    price_overrides: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    #: The budget ledger file shared by the run's processes (harness.calls.budget); None keeps
    #: it in memory (one process makes every call).
    ledger_path: Path | None = None
    #: Freeze the heap after building providers (see prepare). The harness's runs turn it
    #: on (harness.run.backends.build_runner); a Runner other code builds leaves its
    #: process's collector alone.
    freeze_heap: bool = False


class Runner:
    def __init__(self, settings: RunnerSettings, cache: ResponseCache) -> None:
        from harness.calls.pricing import load_prices

        self.settings = settings
        self.cache = cache
        self.prices = load_prices(settings.price_overrides or None)
        self.progress = Progress()
        from harness.calls.budget import Ledger

        self.ledger = (
            Ledger(settings.budget_usd, settings.ledger_path)
            if settings.budget_usd is not None else None
        )
        self._rng = random.Random(settings.seed)
        self._lock = threading.Lock()
        #: One lane (loop thread) per provider name, made at its first call.
        self._lanes: dict[str, Lane] = {}
        self._providers: dict[tuple[Any, ...], Provider] = {}
        self._provider_errors: dict[tuple[Any, ...], HarnessError] = {}
        self._dead: dict[str, AuthError] = {}
        self._closed = False
        #: Set on an interrupt (halt()): no new call is sent after it.
        self._halted = False
        self._switch_interval: float | None = None
        #: Held while a provider is built, so two submitting threads build it once.
        self._build_lock = threading.Lock()
        self._writer = CacheWriter(self.cache.flush)

    # -- public API ------------------------------------------------------------------

    def lookup(self, target: TargetSpec, request: Request) -> CallOutcome | None:
        """A finished outcome from the cache (or a replay miss), else None."""
        key = cache_key(request, target.settings().base_url)
        hit = self.cache.get(key)
        if hit is not None:
            completion, original_cost = hit
            with self._lock:
                self.progress.cache_hits += 1
            return CallOutcome(
                completion,
                cached=True,
                cost_usd=0.0,
                cost_if_live_usd=self._replay_cost(request, completion, original_cost),
            )
        if self.cache.mode.offline:
            return CallOutcome(
                error=CacheMiss(
                    f"not in the cache (mode replay sends no calls): {target.id}; "
                    "run once with --llm-cache=use to record it"
                )
            )
        return None

    def _replay_cost(
        self, request: Request, completion: Completion, stored: float | None
    ) -> float | None:
        """What a replayed answer would cost live: its stored usage priced with THIS run's
        table, so a price added or corrected since the answer was cached applies to it.
        The cost stored with the entry is used only when the current table cannot price
        the call (e.g. an override that priced it is gone)."""
        from harness.calls.pricing import cost_usd

        cost = cost_usd(completion.usage, self.prices.price_for(request.provider, request.model))
        return stored if cost is None else cost

    def submit(
        self, target: TargetSpec, request: Request
    ) -> concurrent.futures.Future[CallOutcome]:
        return self.submit_many([(target, request)])[0]

    def submit_many(
        self, calls: Iterable[tuple[TargetSpec, Request]]
    ) -> list[concurrent.futures.Future[CallOutcome]]:
        """Submit calls in order; cache hits resolve at once, the rest run concurrently."""
        futures: list[concurrent.futures.Future[CallOutcome]] = []
        pending: list[tuple[TargetSpec, Request, concurrent.futures.Future[CallOutcome]]] = []
        for target, request in calls:
            fut: concurrent.futures.Future[CallOutcome] = concurrent.futures.Future()
            futures.append(fut)
            outcome = self.lookup(target, request)
            with self._lock:
                self.progress.submitted += 1
            if outcome is not None:
                self._finish(fut, outcome)
            else:
                pending.append((target, request, fut))
        if pending:
            self.prepare(target for target, _, _ in pending)
            now = time.perf_counter()
            by_provider: dict[str, list[Job]] = {}
            for target, request, fut in pending:
                by_provider.setdefault(target.provider, []).append((target, request, fut, now))
            for provider, jobs in by_provider.items():
                self._lane(provider).add(jobs)
        return futures

    def prepare(self, targets: Iterable[TargetSpec]) -> None:
        """Import the SDK and build the client of every provider these targets need, in the
        calling thread, now. ``submit_many`` calls it before it hands calls to the loop, so no
        SDK import (anthropic's takes over a second) or client construction ever runs on the
        loop while other calls are in flight and being timed. Callers that know a run's
        targets early (the worker, while pytest collects) call it sooner still. A provider
        that cannot be built is remembered; its calls end with that error, unsent.

        With ``freeze_heap``, once a provider was built the heap is frozen (gc.freeze): an
        SDK brings tens of thousands of long-lived objects, and a full collection over them
        (100-370 ms measured, triggered by the garbage of an SDK such as mistralai, which
        makes two pydantic classes per call) stopped every loop while calls were timed."""
        if on_lane_thread():
            raise RuntimeError("Runner.prepare must not run on one of the runner's loop threads")
        seen: set[int] = set()
        built = len(self._providers)
        for target in targets:
            if id(target) in seen:
                continue
            seen.add(id(target))
            # A failure is remembered and reported by each of the target's calls (_call).
            with contextlib.suppress(HarnessError):
                self._provider(target)
        if self.settings.freeze_heap and len(self._providers) > built:
            gc.freeze()

    def refusal(self, target: TargetSpec, request: Request) -> str | None:
        """Why this call would end without being sent (the provider cannot be built, or it
        cannot honour a setting such as temperature), else None. Sends nothing; used by
        the pre-run estimate so it counts only calls the run would really make."""
        try:
            provider, _ = self._provider(target)
            provider.check(request)
        except HarnessError as exc:
            return str(exc)
        return None

    def run(self, target: TargetSpec, request: Request) -> CallOutcome:
        return self.submit(target, request).result()

    def give_way(self, max_s: float = GIVE_WAY_MAX_S) -> None:
        """Wait (at most ``max_s``) until no lane has a callback ready: called by the thread
        that scores answers, before it takes the GIL for its own work. Answers arrive in
        bursts, and every millisecond this thread holds the GIL while a lane has an answer
        to read is timed as that call's latency; the scoring waits a little instead, and
        the run's total work is unchanged."""
        if on_lane_thread():
            return
        lanes = list(self._lanes.values())
        deadline = time.perf_counter() + max_s
        while not all(lane.quiet for lane in lanes) and time.perf_counter() < deadline:
            time.sleep(GIVE_WAY_POLL_S)

    def halt(self) -> None:
        """The run was interrupted: from now on no call is sent (calls already on the wire
        finish or are cancelled by close()). Safe from a signal handler or any thread."""
        self._halted = True

    def close(self) -> None:
        """Cancel what is in flight, close provider clients, stop the lanes, write the cache."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            lanes = list(self._lanes.values())
        for lane in lanes:
            if not lane.stop(functools.partial(self._close_clients, lane.name), timeout=30):
                log.warning("runner shutdown timed out; abandoning in-flight calls")
        self._writer.close()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)

    # -- lanes -----------------------------------------------------------------------

    def _lane(self, provider: str) -> Lane:
        with self._lock:
            if self._closed:
                raise RuntimeError("runner is closed")
            lane = self._lanes.get(provider)
            if lane is None:
                if self._switch_interval is None:
                    # A lane drops the GIL on every socket write and must then wait for the
                    # pytest thread (and the other lanes) to give it back; at the default 5 ms
                    # switch interval that wait, not the provider, dominated a large run
                    # (measured: 12% of a 5000-call run). Restored in close().
                    self._switch_interval = sys.getswitchinterval()
                    sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL_S))
                limit = self._limit(provider)
                lane = self._lanes[provider] = Lane(
                    provider,
                    limit,
                    TASKS_PER_SLOT * limit,
                    self._call,
                    self._not_started,
                    halted=lambda: self._halted or self._closed,
                )
            return lane

    def _limit(self, provider: str) -> int:
        return SERIAL_PROVIDERS.get(provider, self.settings.concurrency)

    def worth_queueing(self, provider: str) -> int:
        """How many live calls of ``provider`` are worth handing over ahead of their turn:
        its lane's running and waiting tasks (TASKS_PER_SLOT x its limit) and one limit
        more in the lane's backlog, so its slots never wait for the next hand-over. A
        caller with many more (the worker) keeps the rest and renders their requests as
        calls end, not all at once while the first calls are being timed."""
        return (TASKS_PER_SLOT + 1) * self._limit(provider)

    def _not_started(self, job: Job) -> None:
        _, _, fut, _ = job
        self._finish(fut, CallOutcome(error=_not_sent()))

    def loop_lag(self) -> dict[str, float] | None:
        """p50 / p95 / max of the lanes' wake-up lag in ms while calls were in flight, and
        the longest single stall."""
        with self._lock:
            lanes = list(self._lanes.values())
        return merged_lag(lanes)

    async def _close_clients(self, provider: str) -> None:
        """Close the clients of ``provider`` (on its lane's loop, where they were used)."""
        for ident, client in list(self._providers.items()):
            if ident[0] != provider:
                continue
            try:
                await client.aclose()
            except Exception as exc:  # closing must not mask the run's own outcome
                log.debug("closing %s failed: %s", client.name, exc)

    def _finish(self, fut: concurrent.futures.Future[CallOutcome], outcome: CallOutcome) -> None:
        with self._lock:
            p = self.progress
            p.done += 1
            p.retries += outcome.retries
            if isinstance(outcome.error, Unsupported | BudgetExceeded):
                p.skipped += 1
            elif outcome.error is not None:
                p.errors += 1
            elif not outcome.cached:
                p.live += 1
                p.spent_usd += outcome.cost_usd or 0.0
        if not fut.done():
            fut.set_result(outcome)

    def _provider(self, target: TargetSpec) -> tuple[Provider, ProviderSettings]:
        settings = target.settings()
        ident = (
            settings.name,
            settings.base_url,
            settings.api_key_env,
            tuple(sorted((k, repr(v)) for k, v in settings.options.items())),
        )
        provider = self._providers.get(ident)
        if provider is not None:
            return provider, settings
        with self._build_lock:
            if ident in self._provider_errors:
                raise self._provider_errors[ident]
            if ident not in self._providers:
                # Imported here, not at the top: aiohttp (~25 MB, ~0.15 s) then loads only in
                # a process that makes calls, not in pytest's process beside a worker nor in
                # a worker that only replays.
                from harness.providers._transport import built_transports

                try:
                    with built_transports() as transports:
                        provider = create_provider(settings)
                except HarnessError as exc:
                    self._provider_errors[ident] = exc
                    raise
                if not on_lane_thread():
                    # Before it is published: no call can use it meanwhile.
                    rehearse(provider, transports, target.model)
                self._providers[ident] = provider
        return self._providers[ident], settings

    async def _call(self, job: Job, lane: Lane) -> None:
        target: TargetSpec
        request: Request
        fut: concurrent.futures.Future[CallOutcome]
        target, request, fut, queued_at = job
        # Time in the backlog is queue time too: it is never part of the provider latency.
        outcome = CallOutcome(queue_ms=(time.perf_counter() - queued_at) * 1000)
        reserved = 0.0
        try:
            provider, settings = self._provider(target)
            provider.check(request)
            reserved = await self._reserve(request)
            completion = await self._attempts(provider, settings, request, outcome, lane)
            price = self.prices.price_for(request.provider, request.model)
            from harness.calls.pricing import cost_usd

            cost = cost_usd(completion.usage, price)
            outcome.completion = completion
            outcome.cost_usd = cost
            outcome.cost_if_live_usd = cost
            if self.cache.put(cache_key(request, settings.base_url), completion, cost, defer=True):
                self._writer.schedule()
        except HarnessError as exc:
            outcome.error = exc
        except asyncio.CancelledError:
            outcome.error = TransientError("cancelled: the run was interrupted")
            raise
        except Exception as exc:  # an adapter bug must fail one cell, not hang the run
            log.exception("unexpected error from provider %s", target.provider)
            outcome.error = TransientError(
                f"unexpected {type(exc).__name__}: {exc}", provider=target.provider
            )
        finally:
            with self._lock:
                self.progress.reserved_usd -= reserved
            if self.ledger is not None and reserved:
                # Settled with what the call really cost (0 for one that failed).
                self.ledger.settle(reserved, outcome.cost_usd or 0.0)
            self._finish(fut, outcome)

    async def _reserve(self, request: Request) -> float:
        """Reserve this call's worst case in the run's ledger (harness.calls.budget), waiting
        while other calls hold reservations; BudgetExceeded when it can never fit."""
        if self.ledger is None:
            return 0.0
        from harness.calls.budget import WAIT_S, call_ceiling

        ceiling = call_ceiling(request, self.prices) or 0.0
        while True:
            if self._halted:
                raise _not_sent()
            fits = self.ledger.try_reserve(ceiling)
            if fits:
                break
            if fits is None:
                spent, _ = self.ledger.totals()
                raise BudgetExceeded(
                    f"budget ${self.ledger.budget:.4f} reached: ${spent:.4f} spent, this call "
                    f"could cost up to ${ceiling:.4f}; raise --llm-budget to run the rest"
                )
            await asyncio.sleep(WAIT_S)
        with self._lock:
            self.progress.reserved_usd += ceiling
        return ceiling

    async def _attempts(
        self,
        provider: Provider,
        settings: ProviderSettings,
        request: Request,
        outcome: CallOutcome,
        lane: Lane,
    ) -> Completion:
        started = time.monotonic()
        sem = lane.semaphore
        while True:
            queued = time.perf_counter()
            async with sem:
                await lane.take_turn()
                outcome.queue_ms += (time.perf_counter() - queued) * 1000
                if self._halted:
                    raise _not_sent()
                # Checked after the wait for a slot: calls queued behind the one that failed
                # authentication must not be sent either.
                dead = self._dead.get(settings.name)
                if dead is not None:
                    raise AuthError(
                        f"not sent: an earlier call failed authentication ({dead})",
                        provider=settings.name,
                        status=dead.status,
                    )
                try:
                    # asyncio.timeout, not wait_for: no extra task per call.
                    async with asyncio.timeout(request.timeout_s + TIMEOUT_GRACE_S):
                        sent = time.perf_counter()
                        completion = await provider.complete(request)
                    lane.call_took(time.perf_counter() - sent)
                    return _with_stall(completion, lane.stall_ms(sent))
                except TimeoutError:
                    error: ProviderError = TransientError(
                        f"no answer within {request.timeout_s:g} s (timeout_s)",
                        provider=settings.name,
                    )
                except AuthError as exc:
                    self._dead[settings.name] = exc
                    raise
                except ProviderError as exc:
                    error = exc
            wait = self.settings.retry.delay(
                error, outcome.retries, time.monotonic() - started, self._rng
            )
            if wait is None:
                if outcome.retries:
                    error.args = (f"{error} (after {outcome.retries} retries)",)
                raise error
            outcome.retries += 1
            await asyncio.sleep(wait)


def _with_stall(completion: Completion, stall_ms: float) -> Completion:
    """The completion with the lane's stall that overlapped its timing window (which lies
    inside [sent, now]) recorded as ``stall_ms``."""
    if stall_ms <= 0.0:
        return completion
    return replace(completion, stall_ms=round(stall_ms, 3))


def _not_sent() -> TransientError:
    return TransientError("not sent: the run was interrupted")
