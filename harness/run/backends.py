"""Where a run's cells are run: one declared interface (Backend), two implementations.

- ``InProcess``: the Runner (background event loop) and the Engine in this process.
- ``InWorker``: a worker process beside pytest (harness.run.worker.client) runs the calls
  and scores the replayed answers; live answers come back and are scored here by the Engine.

RunSession holds one Backend and never asks which one it is; the choice is made once, while
cells are collected (RunSession.note_cells). The worker process itself runs cells with an
``InProcess`` backend.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.calls.retry import RetryPolicy
from harness.run.engine import Engine, Evaluated

if TYPE_CHECKING:
    from harness.calls.cache import ResponseCache
    from harness.calls.outcome import CallOutcome, Progress
    from harness.calls.runner import Runner
    from harness.config import Settings
    from harness.run.engine import Calls
    from harness.run.worker.client import WorkerClient
    from harness.suite.model import Cell


class Backend(Protocol):
    """What RunSession needs from whatever runs its cells."""

    #: Recorded in meta.json: whether cells ran in a worker process.
    in_worker: bool

    @property
    def calls(self) -> Calls:
        """Where single calls go (the ``llm`` fixture, judges): the run's one runner, so
        concurrency limits, the budget and the auth short-circuit stay run-wide."""
        ...

    def add_cells(self, cells: Iterable[Cell]) -> None:
        """Cells as collected, before any is selected to run (nothing is sent yet)."""
        ...

    def submit(self, cells: list[tuple[Cell, str]]) -> None:
        """Start these (cell, nodeid) pairs, so their calls run while earlier cells are
        reported. Cells submitted already are left alone."""
        ...

    def evaluate(self, cell: Cell, nodeid: str) -> Evaluated:
        """The cell's scored result (submitting it first when it was not)."""
        ...

    def progress(self) -> Progress | None:
        """Calls done so far (None before any was submitted)."""
        ...

    def loop_lag(self) -> dict[str, float] | None:
        """The runner's event-loop lag while calls were in flight (None: no calls)."""
        ...

    def halt(self) -> None:
        """The run was interrupted: send no new call (harness.run.signals)."""
        ...

    def give_way(self) -> None:
        """Before a burst of this thread's own work (recording a cell): wait briefly until
        no answer that arrived waits to be read by a call timed in this process
        (Runner.give_way); at once when none is."""
        ...

    def close(self) -> None: ...


def build_runner(
    settings: Settings, cache: ResponseCache, ledger_path: Path | None = None
) -> Runner:
    """The run's Runner from its settings (limits, budget, retries, price overrides);
    ``ledger_path``: the budget ledger shared with the run's other processes."""
    from harness.calls.runner import Runner, RunnerSettings

    overrides: dict[str, Any] = {}
    if settings.prices is not None:
        from harness.calls.pricing import read_price_file

        overrides = dict(read_price_file(settings.prices))
    return Runner(
        RunnerSettings(
            concurrency=settings.concurrency,
            budget_usd=settings.budget,
            retry=RetryPolicy(max_retries=settings.max_retries, max_total_s=settings.retry_time),
            price_overrides=overrides,
            ledger_path=ledger_path,
            # The plugin's and the worker's process are the harness's own (Runner.prepare).
            freeze_heap=True,
        ),
        cache,
    )


class InProcess:
    """Cells run by a Runner and an Engine in this process. Cache and runner are made on
    first use. ``calls``: where the Engine's own calls go (judges, the fixture), when that
    is not this backend's runner (pytest's process with a worker)."""

    in_worker = False

    def __init__(
        self,
        settings: Settings,
        run_id: str,
        *,
        calls: Callable[[], Calls] | None = None,
        shared_ledger: bool = False,
    ) -> None:
        # Every process that makes calls has one of these: the one place that keeps
        # prompts and keys out of the process's logs (harness.run.logguard).
        from harness.run import logguard

        logguard.install(settings.log_prompts)
        self.settings = settings
        #: The budget ledger file this process shares with the run's other processes (a
        #: pytest-xdist worker), else None (harness.calls.budget).
        self._ledger_path: Path | None = None
        if shared_ledger and settings.budget is not None:
            from harness.calls.budget import shared_ledger_path

            self._ledger_path = shared_ledger_path(run_id)
        self._cache: ResponseCache | None = None
        self._runner: Runner | None = None
        self._futures: dict[int, concurrent.futures.Future[CallOutcome]] = {}
        self.engine = Engine(
            settings, run_id, cache=lambda: self.cache, calls=calls or (lambda: self.runner)
        )

    @property
    def cache(self) -> ResponseCache:
        if self._cache is None:
            from harness.calls.cache import ResponseCache

            self._cache = ResponseCache(self.settings.resolved_cache_dir, self.settings.cache)
        return self._cache

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = build_runner(self.settings, self.cache, self._ledger_path)
        return self._runner

    @property
    def built_runner(self) -> Runner | None:
        """The runner if one was made (a run that called nothing has none)."""
        return self._runner

    @property
    def calls(self) -> Calls:
        return self.runner

    def add_cells(self, cells: Iterable[Cell]) -> None:
        """Rendering and lookups happen at submit(). When every call will be live (cache
        off, refreshed or still empty), the providers of these cells are built now, while
        nothing is in flight: otherwise a later suite's SDK import would happen at its first
        submit, with an earlier suite's calls possibly still being timed (Runner.prepare)."""
        if self.settings.cache.surely_misses(self.settings.resolved_cache_dir):
            self.runner.prepare(c.target for c in cells if not c.target.missing_key())

    def submit(self, cells: list[tuple[Cell, str]]) -> None:
        batch = [c for c, _ in cells if id(c) not in self._futures]
        if not batch:
            return
        request_for = self.engine.request_for
        futures = self.runner.submit_many((c.target, request_for(c)) for c in batch)
        for cell, fut in zip(batch, futures, strict=True):
            self._futures[id(cell)] = fut

    def evaluate(self, cell: Cell, nodeid: str) -> Evaluated:
        fut = self._futures.pop(id(cell), None)
        if fut is None:
            outcome = self.runner.run(cell.target, self.engine.request_for(cell))
        else:
            outcome = fut.result()
        if not outcome.cached:
            self.runner.give_way()
        return self.engine.evaluate(cell, outcome, nodeid)

    def give_way(self) -> None:
        if self._runner is not None:
            self._runner.give_way()

    def progress(self) -> Progress | None:
        return self._runner.progress if self._runner is not None else None

    def loop_lag(self) -> dict[str, float] | None:
        return self._runner.loop_lag() if self._runner is not None else None

    def halt(self) -> None:
        if self._runner is not None:
            self._runner.halt()

    def cache_problems(self) -> list[str]:
        """What went wrong with the response cache in this process (one line each)."""
        return list(self._cache.problems) if self._cache is not None else []

    def close(self) -> None:
        """Close the runner, then the cache (flushing answers waiting for it). Once."""
        runner, self._runner = self._runner, None
        cache, self._cache = self._cache, None
        if runner is not None:
            runner.close()
        if cache is not None:
            cache.close()


class InWorker:
    """Cells run by the worker process (harness.run.worker.client); ``engine`` scores the live
    answers it sends back and makes the record of a cell the worker could not answer."""

    in_worker = True

    def __init__(self, client: WorkerClient, engine: Engine) -> None:
        self.client = client
        self.engine = engine
        #: Worker job id of each submitted cell (by id(cell)).
        self._jobs: dict[int, int] = {}

    @property
    def calls(self) -> Calls:
        return self.client

    def add_cells(self, cells: Iterable[Cell]) -> None:
        self.client.add_cells(cells)

    def submit(self, cells: list[tuple[Cell, str]]) -> None:
        batch = [(c, nodeid) for c, nodeid in cells if id(c) not in self._jobs]
        if not batch:
            return
        for (cell, _), job in zip(batch, self.client.evaluate_many(batch), strict=True):
            self._jobs[id(cell)] = job

    def evaluate(self, cell: Cell, nodeid: str) -> Evaluated:
        from harness.run.worker.client import WorkerGone

        job = self._jobs.pop(id(cell), None)
        if not self._jobs:
            # A dict keeps the table of the most it ever held (2.6 MB after 50,000 cells).
            self._jobs = {}
        if job is None:
            job = self.client.evaluate_many([(cell, nodeid)])[0]
        try:
            answer = self.client.cell_reply(job)
        except WorkerGone as exc:
            return self.engine.failed(cell, exc, nodeid)
        return answer.evaluated(self.engine, cell, nodeid)

    def give_way(self) -> None:
        """Nothing is timed in this process: the worker gives way in its own."""

    def progress(self) -> Progress | None:
        return self.client.progress

    def loop_lag(self) -> dict[str, float] | None:
        return self.client.loop_lag()

    def halt(self) -> None:
        self.client.halt()

    def close(self) -> None:
        self.client.close()
