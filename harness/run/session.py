"""Run state for one session: settings, the backend that runs cells, records, metadata.

``RunSession`` is what the pytest plugin keeps in ``config.stash`` and what the library API
drives without pytest. A cell goes prefetch (Backend.submit) -> Backend.evaluate (the Engine
makes its scored Result, in this process or the worker's) -> record() (kept, and appended to
results.jsonl as pytest reports the cell) -> the end of the run (harness.run.finish).
"""

from __future__ import annotations

import logging
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import __version__
from harness.providers import PROVIDERS, sdk_distributions
from harness.results.samples import PromptSamples
from harness.results.store import RunStore, new_run_id
from harness.run.backends import Backend, InProcess, InWorker
from harness.run.engine import Evaluated
from harness.types import Request, Result

if TYPE_CHECKING:
    # Imported where used: the plugin creates a RunSession in every pytest run, and a
    # project's plain unit tests should not pay for the runner, scorers or suite loader.
    from harness.calls.cache import ResponseCache
    from harness.calls.outcome import Progress
    from harness.calls.runner import Runner
    from harness.run.worker.client import WorkerClient
    from harness.suite.model import Cell

__all__ = ["Evaluated", "RunSession", "git_commit", "versions"]

log = logging.getLogger("harness.run.session")

def git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    found = {"harness": __version__, "python": platform.python_version()}
    for dist in sdk_distributions():
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


class RunSession:
    """One run: its settings, its Backend (where cells run), its Engine (how a cell becomes
    a Result) and its records (kept, and appended to results.jsonl at once)."""

    def __init__(self, settings: Any, *, run_id: str | None = None, write: bool = True) -> None:
        from harness.config import Settings

        assert isinstance(settings, Settings)
        self.settings = settings
        self.run_id = run_id or new_run_id()
        self.out_dir = settings.out or settings.rootdir / "reports" / "runs" / self.run_id
        self.write = write
        self.store: RunStore | None = None
        #: Every result recorded, in order; some held slim (see record).
        self._recorded: list[Result] = []
        self._held_slim = False
        self._samples = PromptSamples()
        #: Equal parts of the records held slim, held once.
        self._shared = _SharedParts()
        self.started_at = time.time()
        # The Engine's own calls (judges, the llm fixture) go wherever the cells' calls go.
        # write=False: a pytest-xdist worker, one of several processes making the run's
        # calls, so they share one budget ledger.
        self._local = InProcess(
            settings, self.run_id, calls=lambda: self.backend.calls, shared_ledger=not write
        )
        self.engine = self._local.engine
        self.backend: Backend = self._local
        #: Cells collected while the backend is still to be chosen (None: chosen).
        self._undecided: list[Cell] | None = [] if self._may_use_worker() else None
        #: How many of the undecided cells had their providers prepared in this process.
        self._prepared = 0
        #: A worker started before its cells were known (see expect_suite).
        self._early_worker: WorkerClient | None = None
        #: Work that waits for the first calls to be sent (see when_calls_start).
        self._waiting_work: list[Callable[[], None]] = []

    # -- pipeline pieces ---------------------------------------------------------------

    @property
    def cache(self) -> ResponseCache:
        return self._local.cache

    @property
    def runner(self) -> Runner:
        """This process's runner (the estimate prices calls with it)."""
        return self._local.runner

    def _may_use_worker(self) -> bool:
        s = self.settings
        # Under xdist (write=False) each pytest worker is a process already.
        return s.worker != "off" and not s.estimate and self.write

    def note_cells(self, cells: list[Cell]) -> None:
        """Collection found these cells. Once the run is big enough (see harness.run.worker.client)
        the worker process starts and gets every cell at once, so it has looked them up in the
        cache and loaded the SDKs they need by the time the first cell runs."""
        from harness.run.worker.client import AUTO_MIN_CELLS

        if self._undecided is None:
            self.backend.add_cells(cells)
            return
        self._undecided.extend(cells)
        if self.settings.worker == "on" or len(self._undecided) >= AUTO_MIN_CELLS:
            noted, self._undecided = self._undecided, None
            early, self._early_worker = self._early_worker, None
            self.backend = (
                InWorker(early, self.engine) if early is not None else self._start_worker(noted)
            )
            self.backend.add_cells(noted)

    def expect_suite(self, path: Path) -> None:
        """Collection is about to load the suite file at ``path``. Loading 5000 cases takes
        ~0.5 s, and the worker then ~0.6 s more to import an SDK before the first call can
        go: when the file alone says the run will have a worker (it has at least
        AUTO_MIN_CELLS lines), the worker starts now and imports the SDKs of the providers
        the text names while this process parses. Ended unused if the run turns out
        smaller after all (collection_done)."""
        from harness.run.worker.client import AUTO_MIN_CELLS

        if self._undecided is None or self._early_worker or self.settings.worker == "off":
            return
        try:
            with path.open("rb") as f:
                head = f.read(_EXPECT_READ_LIMIT)
        except OSError:
            return  # the loader says what is wrong with the file
        if head.count(b"\n") < AUTO_MIN_CELLS:
            return
        live: set[str] = set()
        if self.settings.cache.surely_misses(self.settings.resolved_cache_dir):
            text = head.decode("utf-8", errors="replace")
            live = {p for p in _providers_named_in(text) if PROVIDERS[p].missing_key() is None}
        self._early_worker = self._worker_client(live)

    def collection_done(self) -> None:
        """Collection is over: a worker started early for cells that never came (fewer
        than AUTO_MIN_CELLS in the end) is ended."""
        early, self._early_worker = self._early_worker, None
        if early is not None:
            early.discard()

    def _start_worker(self, cells: list[Cell]) -> Backend:
        client = self._worker_client(self._surely_live(cells))
        return InWorker(client, self.engine) if client is not None else self._local

    def _worker_client(self, live: set[str]) -> WorkerClient | None:
        """A new worker process that loads the SDKs of ``live`` first; None when no
        process can start (the run then goes on in this one)."""
        from harness.run.worker.client import WorkerClient

        try:
            return WorkerClient(self.settings, self.run_id, self.out_dir / "worker.log", live)
        except OSError as exc:  # no interpreter to start (embedded Python, limits)
            log.warning("running cells in this process: no worker process (%s)", exc)
            self.settings = replace(self.settings, worker="off")
            return None

    def _surely_live(self, cells: list[Cell]) -> set[str]:
        """Providers of these cells whose calls cannot come from the cache: it is not
        read in this mode, or holds nothing yet (a first run)."""
        if self.settings.cache.surely_misses(self.settings.resolved_cache_dir):
            return {c.target.provider for c in cells if not c.target.missing_key()}
        return set()

    def request_for(self, cell: Cell) -> Request:
        return self.engine.request_for(cell)

    def skip_reason(self, cell: Cell) -> str | None:
        return self.engine.skip_reason(cell)

    def when_calls_start(self, work: Callable[[], None]) -> None:
        """Do ``work`` (storing a parsed suite for the next run: ~0.25 s for 5000 cases)
        once the first calls are on their way, not during collection: with a worker, this
        process does it while it waits for the first answers, and the calls start that much
        sooner. Without one, it is done just before the first calls, since this process
        then times them itself. Left for the end of the run when no cell runs."""
        self._waiting_work.append(work)

    def _do_waiting_work(self) -> None:
        work, self._waiting_work = self._waiting_work, []
        for job in work:
            job()

    def prefetch(self, cells: Iterable[tuple[Cell, str]]) -> None:
        """Submit these (cell, nodeid) pairs once each, so their calls run (and, with a
        worker, their scoring too) while earlier cells are reported."""
        batch = [(c, nodeid) for c, nodeid in cells if self.engine.skip_reason(c) is None]
        if self._undecided and len(self._undecided) > self._prepared:
            # Too few cells so far for a worker: they run in this process, whose providers
            # are prepared before the first of their calls (InProcess.add_cells).
            self._local.add_cells(self._undecided[self._prepared :])
            self._prepared = len(self._undecided)
        if not self.backend.in_worker:
            self._do_waiting_work()
        if batch:
            self.backend.submit(batch)
        self._do_waiting_work()

    def evaluate(self, cell: Cell, nodeid: str = "") -> Evaluated:
        """A cell's result and failure message, from whichever backend runs the cells."""
        return self.backend.evaluate(cell, nodeid)

    def skipped(self, cell: Cell, reason: str, nodeid: str = "") -> Result:
        return self.engine.skipped(cell, reason, nodeid)

    # -- recording and the end of the run ---------------------------------------------

    @property
    def results(self) -> list[Result]:
        """Every result recorded so far, in the order recorded. Their answers, rendered
        prompts, vars, tool calls, node ids and case metadata may be left out: what needs
        them reads details()."""
        return self._recorded

    def details(self) -> Iterable[Result]:
        """Every result recorded, in full, in the order recorded: read back from
        results.jsonl one at a time when some are held slim (see record)."""
        if self._held_slim and self.store is not None:
            return self.store.read_back()
        return iter(self._recorded)

    def prompt_samples(self) -> list[dict[str, Any]]:
        """The rendered prompt of each (suite, variant)'s first case (harness.results.samples)."""
        return self._samples.rows()

    def record(
        self, record: Result | dict[str, Any], line: bytes | None = None, *, owned: bool = False
    ) -> None:
        """Keep a cell's result and append it to results.jsonl at once: called as pytest
        reports the cell, so a reported cell is on disk. ``record`` is a Result, or its dict
        when it came on a test report from an xdist worker; ``line`` is the record the
        worker process encoded, written as it is. ``owned``: nothing but this session keeps
        the Result (a cell's; a plain test's is also the test's own), so it may be held slim."""
        data = record if isinstance(record, dict) else None
        # Kept as a slotted Result: a record's dict of ~45 keys costs ~3.5 KB a cell more,
        # for as long as the run lasts.
        result = Result.from_dict(record) if isinstance(record, dict) else record
        self._recorded.append(result)
        self._samples.add(result)
        if not self.write:
            return
        store = self.run_store()
        assert store is not None
        # Writing the line takes this thread's GIL while calls may be timed on the lanes.
        self.backend.give_way()
        # The dict or line given is encoded or written as it is (a Result would be turned
        # into a dict again first).
        store.append(line if line is not None else data if data is not None else result)
        if owned or data is not None:
            # Only this session holds the Result, and its whole record is on disk now: the
            # fields only the report's case details and the gate's case diffs need are
            # dropped (~1 KB a cell on the bench suite, far more with long answers, prompts
            # or dataset rows; details() reads them back).
            _hold_slim(result, self._shared)
            self._held_slim = True

    def run_store(self) -> RunStore | None:
        """The run directory's writer once anything was recorded (None when this process
        does not write: an xdist worker, or nothing ran)."""
        if not self.write or not self._recorded:
            return None
        if self.store is None:
            self.store = RunStore(self.out_dir)
        return self.store

    def halt_calls(self) -> None:
        """The run was interrupted: no new call from here on, in this process or the
        worker (harness.run.signals). What is recorded so far is still written at the end."""
        self.backend.halt()
        self._local.halt()

    def cache_problems(self) -> list[str]:
        """What went wrong with the response cache in this process (one line each)."""
        return self._local.cache_problems()

    def runner_loop_lag(self) -> dict[str, float] | None:
        """The runner's event-loop lag while calls were in flight (None: no calls)."""
        return self.backend.loop_lag()

    def progress(self) -> Progress | None:
        """Calls done so far (None before any was submitted)."""
        return self.backend.progress()

    def meta(self) -> dict[str, Any]:
        runner = self._local.built_runner
        prices = runner.prices if runner is not None else None
        if prices is None:
            try:
                from harness.calls.pricing import load_prices, read_price_file

                path = self.settings.prices
                prices = load_prices(read_price_file(path) if path is not None else None)
            except Exception:  # metadata must never fail the run
                prices = None
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": time.time(),
            "git_commit": git_commit(self.settings.rootdir),
            "versions": versions(),
            # What priced this run's costs (replays included: they are re-priced from
            # their stored usage): the shipped table's date and the rows --llm-prices set.
            "price_table_date": prices.date if prices is not None else None,
            "price_overrides": list(prices.overridden) if prices is not None else [],
            # This run is one shard of a split run (--llm-shard K/N); llm-harness report
            # merges the shards' folders back into one run.
            "shard": self.settings.shard.to_dict() if self.settings.shard else None,
            # How late the runner's loop woke up while calls were in flight: latencies can
            # include up to this much client-side delay (see Runner._watch_lag).
            "loop_lag_ms": self.runner_loop_lag(),
            # Whether cells ran in a worker process beside pytest (see harness.run.worker.client).
            "worker": self.backend.in_worker,
            "argv": sys.argv[1:],
            "cache_mode": self.settings.cache.value,
        }

    def end_calls(self) -> None:
        """No call is made after this: the worker process exits and this process's runner
        and cache close (flushing answers waiting for it), so their memory is free before
        the end of the run writes its files. close() then has nothing left to do for them."""
        self.backend.close()
        self._local.close()

    def close(self) -> None:
        self._do_waiting_work()
        self.collection_done()  # collection ended with an error
        if self.write and self.settings.budget is not None:
            # The ledger the run's xdist workers shared, if they did (harness.calls.budget).
            from harness.calls.budget import shared_ledger_path

            shared_ledger_path(self.run_id).unlink(missing_ok=True)
        self.backend.close()
        # This process's own runner and cache (the estimate's, replay's key checks), when
        # the backend is the worker; closing twice is nothing.
        self._local.close()
        if self.store is not None:
            self.store.close()


#: Fields only the report's case details and the gate's case diffs use; a record held slim
#: shares these empties (a recorded Result is never changed).
_SLIM_EMPTY: dict[str, Any] = {
    "output": None, "prompt": [], "vars": {}, "tool_calls": [], "metadata": {},
    "description": None, "nodeid": "",
}


#: At most this many distinct score lists are kept to be shared: a run whose scores all
#: differ (a float value each) keeps a bounded table, not a second copy of every list.
SHARED_SCORE_LISTS = 4096


#: Numeric fields of a record whose values repeat from cell to cell (a replay's cost of 0,
#: its queue time, token counts, a model's price per call), and at most how many distinct
#: values of them are kept to be shared.
_REPEATED_NUMBERS = (
    "temperature", "queue_ms", "stall_ms", "provider_ms", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "cost_usd",
    "cost_if_live_usd",
)
SHARED_NUMBERS = 4096


class _SharedParts:
    """Equal parts of slim records held once: a suite's derived_metrics are on each of its
    records, most cells of a suite pass (or fail) their checks with the same scores, and
    many numbers repeat (each a 24-32 byte object as the record arrives)."""

    def __init__(self) -> None:
        self.formulas: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        self.scores: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self.numbers: dict[tuple[type, float], float] = {}

    def numbers_of(self, result: Result) -> None:
        for name in _REPEATED_NUMBERS:
            value = getattr(result, name)
            # Small ints are shared by Python already; a bool is never one of these.
            if value is None or (type(value) is int and -5 <= value <= 256):
                continue
            # 1 == 1.0, yet a count is not a cost.
            shared = _share(self.numbers, (type(value), value), value, SHARED_NUMBERS)
            if shared is not value:
                setattr(result, name, shared)

    def formulas_of(self, formulas: dict[str, str]) -> dict[str, str]:
        return self.formulas.setdefault(tuple(sorted(formulas.items())), formulas)

    def scores_of(self, scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Each value's type is part of the key: True == 1 == 1.0, yet they are not the same.
        key = tuple(tuple((k, type(v), v) for k, v in score.items()) for score in scores)
        try:
            return _share(self.scores, key, scores, SHARED_SCORE_LISTS)
        except TypeError:  # a value that cannot be hashed (a list, a dict)
            return scores


def _share(table: dict[Any, Any], key: Any, value: Any, limit: int) -> Any:
    """The value held for ``key``, else ``value`` (then held too while ``table`` has fewer
    than ``limit`` entries). TypeError when ``key`` cannot be hashed."""
    shared = table.get(key)
    if shared is not None:
        return shared
    if len(table) < limit:
        table[key] = value
    return value


def _hold_slim(result: Result, shared: _SharedParts) -> None:
    for name, empty in _SLIM_EMPTY.items():
        setattr(result, name, empty)
    if result.derived_metrics:
        result.derived_metrics = shared.formulas_of(result.derived_metrics)
    if result.scores:
        result.scores = shared.scores_of(result.scores)
    shared.numbers_of(result)


#: How much of a suite file expect_suite reads for its guess.
_EXPECT_READ_LIMIT = 4 << 20


def _providers_named_in(text: str) -> set[str]:
    """Providers a suite's text seems to name as targets ("openai:gpt-4o-mini", or
    "provider: openai"): a guess made before the file is parsed, to load their SDKs early.
    A wrong guess costs a worker one import, a missed one only the time it saves."""
    names = "|".join(re.escape(name) for name in sorted(PROVIDERS, key=len, reverse=True))
    found = re.findall(rf"(?<![\w.-])({names}):(?=[\w.-])|provider:\s*['\"]?({names})\b", text)
    return {a or b for a, b in found}

