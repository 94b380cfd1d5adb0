"""The worker process's side of harness.run.worker.client: the loop that takes cells and calls from
pytest's process, runs them through the same in-process backend (Runner + Engine) that
pytest's process would use, and answers with the messages of harness.run.worker.messages.

Started by WorkerClient with ``python -c`` (see harness.run.worker.client.python_child); why the
worker exists is described in harness.run.worker.client. It never builds a RunSession and never
writes results.jsonl: a record it scores goes back encoded, for pytest's process to write.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import importlib
import logging
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import harness.run.worker.messages as msg
from harness.heap import give_back_free_memory

if TYPE_CHECKING:
    import concurrent.futures

    from harness.calls.outcome import CallOutcome
    from harness.run.backends import InProcess
    from harness.suite.model import Cell
    from harness.suite.targets import TargetSpec
    from harness.types import Request

log = logging.getLogger("harness.run.worker.client")

#: Cells the worker takes from a batch before it lets replies and other work through.
CHUNK = 64
#: After this many cells have ended, what they held goes back to the system
#: (harness.heap; the worker runs on the C allocator, see client.WORKER_ENV). A trim takes
#: a few milliseconds, off the GIL.
GIVE_BACK_EVERY = 2000


# Events of the worker's own, queued beside the parent's messages so that one thread handles
# everything in order: lookups still to do, and calls the Runner's loop has finished.


@dataclass(frozen=True, slots=True)
class _Lookup:
    cells: tuple[tuple[int, Cell], ...]


@dataclass(frozen=True, slots=True)
class _CellRan:
    job: int
    cell: Cell
    nodeid: str
    future: concurrent.futures.Future[CallOutcome]


@dataclass(frozen=True, slots=True)
class _Release:
    """Hand more waiting Go jobs to the runner (Server.release)."""


@dataclass(frozen=True, slots=True)
class _GiveBack:
    """Return freed heap pages to the system (harness.heap), once a batch is looked up."""


@dataclass(frozen=True, slots=True)
class _CallRan:
    job: int
    future: concurrent.futures.Future[CallOutcome]


def _warm(providers: Iterable[str]) -> None:
    """Import these providers' adapters and SDKs (~0.5 s each) before the first call.

    Done on the main thread, before the cells that need them are submitted: the calls
    cannot start without the SDK, and an import racing other work for the GIL took twice as
    long. Not on the loop thread, where it would stall calls in flight and inflate their
    latency. A provider that cannot load is left for its first call to report, with the fix.
    """
    from harness.providers import provider_info

    for name in sorted(providers):
        try:
            importlib.import_module(provider_info(name).module)
        except Exception as exc:
            log.debug("warming provider %s failed: %s", name, exc)


def _read_requests(source: IO[bytes], events: queue.SimpleQueue[Any]) -> None:
    while True:
        try:
            events.put(pickle.load(source))
        except (EOFError, OSError, pickle.UnpicklingError):
            events.put(msg.Close())
            return


class Server:
    """The worker's main thread: take cells in, look them up, run and score them, answer.

    Calls run on the Runner's loop thread; their completions come back here through
    ``events`` so that scoring (which may itself make a judge call and wait for it) never
    runs on the loop. Large batches are taken CHUNK cells at a time, the rest put back at
    the end of the queue, so the first answers go out while later cells are still read.
    Cells pytest asks for (Go) are submitted as their provider's calls end (release), a
    window ahead, not all at once.
    """

    def __init__(
        self,
        local: InProcess,
        events: queue.SimpleQueue[Any],
        out: IO[bytes],
        live: Iterable[str],
    ) -> None:
        self.local = local
        self.engine = local.engine
        self.events = events
        self.out = out
        self.live = set(live)
        self.warmed = set(self.live)
        # Cells received and not yet answered, by job. Also keeps them alive while the
        # engine caches their requests by id(cell) (Engine.forget drops both once scored).
        self.cells: dict[int, Cell] = {}
        #: Jobs submitted to the runner and not yet answered: their lookup is done.
        self.sent: set[int] = set()
        #: Jobs pytest asked for (Go) and not yet submitted, per provider, in order.
        self.waiting: dict[str, collections.deque[tuple[int, str]]] = {}
        #: Submitted jobs whose call went out live, with their provider, and how many of
        #: each provider's are still open.
        self.flying: dict[int, str] = {}
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.release_queued = False
        #: Cells ended so far (their memory is given back every GIVE_BACK_EVERY).
        self.ended = 0
        # Answers of one burst of work go out as one message: the parent's reader then wakes
        # (and takes the GIL from pytest) once per burst, not once per cell.
        self.answers: list[msg.Answer] = []
        self.closed = False
        #: One handler per message type.
        self.handlers: dict[type, Callable[[Any], None]] = {
            msg.AddCells: self.on_add_cells,
            _Lookup: self.on_lookup,
            msg.Go: self.on_go,
            _Release: self.on_release,
            _CellRan: self.on_cell_ran,
            msg.RunCalls: self.on_run_calls,
            _CallRan: self.on_call_ran,
            _GiveBack: lambda _: give_back_free_memory(),
            msg.AskLoopLag: self.on_ask_loop_lag,
            msg.Close: self.on_close,
        }

    def serve(self) -> None:
        while not self.closed:
            message = self.events.get()
            if self.flying:
                # Live calls are being timed on the lanes: let them read what has arrived
                # before this thread takes the GIL for a burst of its own work.
                self.local.runner.give_way()
            while True:
                self.handlers[type(message)](message)
                if self.closed:
                    return
                try:
                    message = self.events.get_nowait()
                except queue.Empty:
                    break
            self.send_answers()

    # -- answers -----------------------------------------------------------------------

    def answer(self, answer: msg.Answer) -> None:
        self.answers.append(answer)
        if len(self.answers) >= CHUNK:  # a long burst still answers as it goes
            self.send_answers()

    def send_answers(self) -> None:
        if self.answers:
            runner = self.local.built_runner
            progress = dataclasses.replace(runner.progress) if runner is not None else None
            replies = msg.Replies(tuple(self.answers), progress)
            pickle.dump(replies, self.out, pickle.HIGHEST_PROTOCOL)
            self.answers.clear()
        self.out.flush()

    def request_or_fail(self, job: int, cell: Cell) -> Request | None:
        """The cell's request; None when its prompt does not render (the cell is then
        answered, once, with the error)."""
        try:
            return self.engine.request_for(cell)
        except Exception:
            self.cells.pop(job)
            self.answer(msg.CellFailed(job, traceback.format_exc()))
            return None

    def queue_event(self, event: Callable[..., Any], *args: Any) -> None:
        """A runner future's done-callback: ``event(*args, future)`` onto the queue."""
        self.events.put(event(*args))

    def take(self, items: tuple[Any, ...], rest: Callable[[tuple[Any, ...]], Any]) -> Any:
        """The first CHUNK items; the rest go back to the end of the queue."""
        if len(items) > CHUNK:
            self.events.put(rest(items[CHUNK:]))
        return items[:CHUNK]

    # -- handlers ----------------------------------------------------------------------

    def on_add_cells(self, message: msg.AddCells) -> None:
        # Known at once, looked up chunk by chunk: a Go may come for any of them before its
        # lookup chunk's turn (pytest may run cells in another order).
        self.cells.update(message.cells)
        self.events.put(_Lookup(message.cells))
        if not self.local.cache.mode.offline:
            # Clients of the surely-live providers are built before any call too.
            self.local.runner.prepare(
                c.target for _, c in message.cells
                if c.target.provider in self.live and not c.target.missing_key()
            )

    def on_lookup(self, message: _Lookup) -> None:
        from harness.calls.cache import cache_key

        cache = self.local.cache
        need_calls = set()
        targets = []
        if len(message.cells) <= CHUNK:
            # The last chunk of a batch: what rendering and looking up its cells freed
            # (requests past the read-ahead, cache rows) goes back to the system after it.
            self.events.put(_GiveBack())
        for job, cell in self.take(message.cells, _Lookup):
            if job not in self.cells or job in self.sent or cell.target.provider in self.live:
                # Answered or submitted already, or nothing in the cache to find.
                continue
            request = self.request_or_fail(job, cell)
            if request is None:
                continue
            key = cache_key(request, cell.target.settings().base_url)
            held = not cache.read_ahead_full  # this entry, if there is one, is kept
            if not cache.preload(key) and not cell.target.missing_key():
                need_calls.add(cell.target.provider)
                targets.append(cell.target)
            if not held:
                # Past the read-ahead its answer is not held, and neither is its rendered
                # request: kept until its Go, a 50,000-cell rerun held every cell's (~1 KB
                # each). It is rendered again then.
                self.engine.forget(cell)
        need_calls -= self.warmed
        if need_calls and not cache.mode.offline:
            self.warmed.update(need_calls)
            # SDK imported and client built now, before a Go releases any call.
            self.local.runner.prepare(targets)

    def on_go(self, message: msg.Go) -> None:
        for job, nodeid in message.jobs:
            cell = self.cells.get(job)
            if cell is not None:  # else answered already (its prompt failed to render)
                self.waiting.setdefault(cell.target.provider, collections.deque()).append(
                    (job, nodeid)
                )
        self.queue_release()

    def queue_release(self) -> None:
        if not self.release_queued:
            self.release_queued = True
            self.events.put(_Release())

    def on_release(self, message: _Release) -> None:
        self.release_queued = False
        self.release()

    def release(self) -> None:
        """Submit waiting Go jobs, at most CHUNK now (the rest after the replies queued
        meanwhile), and of each provider only while its live calls in flight stay within
        Runner.worth_queueing. Rendering and submitting all 5000 cells of a Go at once held
        the GIL for ~0.3 s just as the first calls went out, and those calls were timed at
        ~380 ms for 100 ms of provider time; now a request is rendered as a slot comes free
        (answers from the cache resolve at once and never hold a slot)."""
        runner = self.local.runner
        jobs: list[tuple[int, Cell, str]] = []
        calls: list[tuple[TargetSpec, Request]] = []
        for provider, waiting in self.waiting.items():
            room = self.room(provider)
            while waiting and room > 0 and len(jobs) < CHUNK:
                job, nodeid = waiting.popleft()
                cell = self.cells.get(job)
                if cell is None:
                    continue
                request = self.request_or_fail(job, cell)
                if request is None:
                    continue
                jobs.append((job, cell, nodeid))
                calls.append((cell.target, request))
                room -= 1
        self.sent.update(job for job, _, _ in jobs)
        futures = runner.submit_many(calls)
        for (job, cell, nodeid), fut in zip(jobs, futures, strict=True):
            if not fut.done():  # live: holds a place in its provider's window till it ends
                self.flying[job] = cell.target.provider
                self.in_flight[cell.target.provider] += 1
            # Back to this thread as an event: scoring never runs on the runner's loop.
            fut.add_done_callback(functools.partial(self.queue_event, _CellRan, job, cell, nodeid))
        # More now if a provider still has room: the CHUNK was reached, or some of these
        # were answered from the cache and took no place after all.
        if any(waiting and self.room(provider) > 0 for provider, waiting in self.waiting.items()):
            self.queue_release()

    def room(self, provider: str) -> int:
        """How many more of ``provider``'s calls may be submitted now (release)."""
        return self.local.runner.worth_queueing(provider) - self.in_flight[provider]

    def on_cell_ran(self, message: _CellRan) -> None:
        from harness.results.store import encode

        job, cell = message.job, message.cell
        outcome = message.future.result()
        self.cells.pop(job, None)
        self.sent.discard(job)
        self.ended += 1
        if self.ended % GIVE_BACK_EVERY == 0:
            give_back_free_memory()
        provider = self.flying.pop(job, None)
        if provider is not None:
            self.in_flight[provider] -= 1
            if self.waiting.get(provider):
                self.queue_release()
        if outcome.completion is not None and not outcome.cached:
            # A live answer: scored by pytest's process (see worker_protocol.CellLive).
            self.answer(msg.CellLive(job, outcome))
            self.engine.forget(cell)
            return
        try:
            verdict = self.engine.verdict(cell, outcome, message.nodeid)
            result = verdict.result
            self.answer(msg.CellScored(job, result, encode(result), verdict.message))
        except Exception:
            self.answer(msg.CellFailed(job, traceback.format_exc()))
        self.engine.forget(cell)

    def on_run_calls(self, message: msg.RunCalls) -> None:
        calls = message.calls
        futures = self.local.runner.submit_many((t, r) for _, t, r in calls)
        for (job, _, _), fut in zip(calls, futures, strict=True):
            fut.add_done_callback(functools.partial(self.queue_event, _CallRan, job))

    def on_call_ran(self, message: _CallRan) -> None:
        self.answer(msg.CallDone(message.job, message.future.result()))

    def on_ask_loop_lag(self, message: msg.AskLoopLag) -> None:
        self.answer(msg.LoopLag(message.job, self.local.loop_lag()))

    def on_close(self, message: msg.Close) -> None:
        self.send_answers()
        self.closed = True


def main() -> int:
    # Ctrl-C reaches the whole process group; the parent decides when this process stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    source = sys.stdin.buffer
    init = pickle.load(source)
    assert isinstance(init, msg.Init)
    # Read requests from the start: the parent must never block on a full pipe while this
    # process is still importing.
    events: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(target=_read_requests, args=(source, events), daemon=True).start()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    _warm(init.live)
    from harness.run.backends import InProcess

    local = InProcess(init.settings, init.run_id)
    from harness.run.signals import on_halt

    on_halt(local.halt)
    try:
        Server(local, events, out, init.live).serve()
    finally:
        local.close()
        out.close()
        logging.shutdown()
    # Everything is closed and flushed (the cache included); skip the interpreter's own
    # teardown, which the parent would otherwise wait for at the end of every run.
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
