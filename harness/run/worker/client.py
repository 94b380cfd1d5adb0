"""A child process that takes cells from the pytest process and hands back scored results.

Why: pytest spends ~0.35 ms of CPU on every item whatever the item does, and the pipeline
behind a cell (cache lookup, the SDK's request building and response parsing, scoring, the
Result) costs as much again. In one process those share one GIL, so a large run is CPU-bound
on one core while the other idles. With the worker, the pytest process collects and reports;
the worker looks cells up in the cache, makes their calls and scores replayed answers, while
pytest's own per-item work goes on. Live answers come back to be scored in pytest's process,
which idles while it waits for them. It is used for runs of at least AUTO_MIN_CELLS cells
(``--llm-worker``).

The worker is the same pipeline, not a second one: it builds the same in-process backend
(harness.run.backends.InProcess: the Runner and the Engine) from the parent's Settings.
Every live call of the run goes through it while it exists (cells, plain-test ``llm`` calls,
judges), so the concurrency limits, the budget and the auth short-circuit stay run-wide.

Protocol: the typed messages of harness.run.worker.messages, pickled over the child's stdin
(requests) and a duplicate of its stdout (replies); the child points its own stdout at its
stderr, which goes to ``worker.log`` in the run directory, so a stray print can never corrupt
a reply. API keys never cross the pipe: the child inherits the environment. The child ignores
SIGINT: on Ctrl-C the parent closes it, which cancels its calls in flight; every answer
already received is in the cache.

Only pytest's process writes results.jsonl: a record the worker made comes back encoded with
its answer and is written when pytest reports the cell (harness.run.session.RunSession.record).

This module is the pytest process's side (WorkerClient); the child's loop is in
harness.run.worker.child.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import json
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import harness.run.worker.messages as msg
from harness.errors import TransientError
from harness.run.worker.messages import WorkerJobError

if TYPE_CHECKING:
    from harness.calls.outcome import CallOutcome, Progress
    from harness.config import Settings
    from harness.suite.model import Cell
    from harness.suite.targets import TargetSpec
    from harness.types import Request

__all__ = ["AUTO_MIN_CELLS", "WorkerClient", "WorkerGone", "WorkerJobError"]

log = logging.getLogger("harness.run.worker.client")

#: With --llm-worker=auto, a run of at least this many cells gets a worker process. Below it
#: the ~0.3 s a new process takes to start is not paid back.
AUTO_MIN_CELLS = 200
_SYS_PATH_ENV = "LLM_HARNESS_WORKER_SYS_PATH"


def python_child(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a new interpreter that runs ``module.main()`` as its
    exit status (``args`` as its sys.argv[1:]). It imports with this process's sys.path, as
    multiprocessing's spawn does: the same harness, and the same user modules for python
    scorers, however this process found them."""
    code = (
        "import json, os, sys; "
        f"sys.path[:] = json.loads(os.environ.pop({_SYS_PATH_ENV!r})); "
        f"from {module} import main; raise SystemExit(main())"
    )
    env = dict(os.environ)
    env[_SYS_PATH_ENV] = json.dumps(sys.path)
    return [sys.executable, "-c", code, *args], env


def start_python_child(
    module: str,
    *args: str,
    stdin: Any = subprocess.PIPE,
    stderr: Any = subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """python_child started, its stdout a pipe; ``env`` adds to its environment (a
    variable already set by the user wins). Raises OSError when no process can start."""
    command, child_env = python_child(module, *args)
    for key, value in (env or {}).items():
        child_env.setdefault(key, value)
    return subprocess.Popen(
        command, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=child_env,
        close_fds=True,
    )


#: Added to the worker's environment (a value the user set wins). The worker holds every
#: cell of the run from collection on and frees each as its call ends; under Python's own
#: allocator the freed cells stayed resident to the end (a 50,000-cell cold run: 93 arenas
#: of 1 MiB, none returned, 35 MB of them empty pools), because an arena goes back to the
#: system only when every object in it is gone. Under the C allocator the worker gives the
#: pages back as it goes (child.GIVE_BACK_EVERY, harness.heap): 147 -> ~116 MB by the end
#: of that run's calls, at no measured cost in time (docs/performance.md). A process the
#: worker starts (a user's scorer may) inherits it; any Python runs correctly under it.
WORKER_ENV = {"PYTHONMALLOC": "malloc"}
#: How long close() waits for the worker to cancel its calls and exit before killing it.
CLOSE_TIMEOUT_S = 30.0
#: Cell answers read from the worker and not yet taken by a test item, at most. Replayed
#: cells are scored faster than pytest reports them: unread, a 50,000-cell rerun held every
#: answer (~4 KB each) in this process at once. Past the limit the reader stops reading until
#: an item takes one; the pipe fills and the worker waits to send. Anything this process
#: waits for that is not yet read (another cell, a judge's call, the loop lag) lifts the
#: limit, so a wait can never be behind answers nobody takes.
MAX_UNTAKEN = 1000


class WorkerGone(TransientError):
    """The worker process ended before it answered."""

    kind = "worker_gone"


class WorkerClient:
    """The pytest process's handle on its worker. For calls it offers the Runner's own
    interface (submit_many, run, loop_lag, close; ``progress``), so the Engine's judges and
    the ``llm`` fixture use either without knowing which; cells go through evaluate_many."""

    def __init__(
        self, settings: Settings, run_id: str, log_path: Path, live: Iterable[str] = ()
    ) -> None:
        """``live``: providers whose calls are sure to miss the cache (it is empty or not
        read); the worker loads their SDKs first thing instead of after its lookups."""
        from harness.calls.outcome import Progress

        self.progress: Progress = Progress()
        self.log_path = log_path
        self._ids = itertools.count(1)
        self._futures: dict[int, concurrent.futures.Future[Any]] = {}
        self._cell_jobs: dict[int, int] = {}
        self._cell_answers: dict[int, msg.CellAnswer] = {}
        self._replied = threading.Condition()
        #: Cells whose answer is waited for and not yet read (see MAX_UNTAKEN).
        self._missing = 0
        self._lock = threading.Lock()
        self._gone: str | None = None
        self._closed = False
        self._final_lag: dict[str, float] | None = None
        #: One handler per kind of answer (the cell answers wait for cell_reply()).
        self._handlers: dict[type, Callable[[Any], None]] = {
            msg.CellScored: self._cell_answered,
            msg.CellLive: self._cell_answered,
            msg.CellFailed: self._cell_answered,
            msg.CallDone: self._resolve,
            msg.LoopLag: self._resolve,
        }
        self._answered: dict[int, msg.CellAnswer] = {}
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the worker
        try:
            self._proc = start_python_child(
                "harness.run.worker.child", stderr=self._log, env=WORKER_ENV
            )
        except OSError:
            self._log.close()
            self._remove_empty_log()
            raise
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in: IO[bytes] = self._proc.stdin
        self._out: IO[bytes] = self._proc.stdout
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._send(msg.Init(settings, run_id, tuple(sorted(set(live)))))
        self._writer = threading.Thread(
            target=self._write, name="llm-harness-worker-writer", daemon=True
        )
        self._reader = threading.Thread(
            target=self._read, name="llm-harness-worker-reader", daemon=True
        )
        self._writer.start()
        self._reader.start()

    # -- requests ------------------------------------------------------------------------

    def add_cells(self, cells: Iterable[Cell]) -> None:
        """Hand over cells as soon as they are collected (see worker_protocol.AddCells):
        cells deselected later (-k, -m) cost no call."""
        batch = []
        with self._lock:
            for cell in cells:
                if id(cell) in self._cell_jobs:
                    continue
                job = next(self._ids)
                self._cell_jobs[id(cell)] = job
                batch.append((job, cell))
        if batch and self._gone is None:
            self._send(msg.AddCells(tuple(batch)))

    def evaluate_many(self, jobs: Iterable[tuple[Cell, str]]) -> list[int]:
        """Run and score these (cell, nodeid) pairs; returns their job ids, whose answers
        cell_reply() gives (one condition for all cells: a Future per cell, thousands of
        them waiting at once, cost megabytes)."""
        jobs = list(jobs)
        self.add_cells(cell for cell, _ in jobs)
        with self._lock:
            # A job answers once: a cell run again (a rerun plugin) is sent again.
            go = [(self._cell_jobs.pop(id(cell)), nodeid) for cell, nodeid in jobs]
            if not self._cell_jobs:
                self._cell_jobs = {}  # not the table of the most it ever held
        if go and self._gone is None:
            self._send(msg.Go(tuple(go)))
        return [job for job, _ in go]

    def cell_reply(self, job: int) -> msg.CellAnswer:
        """Wait for a cell's answer. Raises WorkerGone when the worker ended first."""
        with self._replied:
            if job not in self._cell_answers:
                self._missing += 1
                self._replied.notify_all()  # the reader may be holding back
                while job not in self._cell_answers and self._gone is None:
                    self._replied.wait()
                self._missing -= 1
            answer = self._cell_answers.pop(job, None)
            if len(self._cell_answers) == MAX_UNTAKEN - 1:
                self._replied.notify_all()  # room again
        if answer is None:
            raise WorkerGone(self._gone or "the worker is closed")
        return answer

    @property
    def alive(self) -> bool:
        return self._gone is None and not self._closed

    def submit_many(
        self, calls: Iterable[tuple[TargetSpec, Request]]
    ) -> list[concurrent.futures.Future[CallOutcome]]:
        batch, futures = self._register(calls)
        if batch:
            self._send(msg.RunCalls(tuple(batch)))
        return futures

    def submit(
        self, target: TargetSpec, request: Request
    ) -> concurrent.futures.Future[CallOutcome]:
        return self.submit_many([(target, request)])[0]

    def run(self, target: TargetSpec, request: Request) -> CallOutcome:
        return self.submit(target, request).result()

    def loop_lag(self) -> dict[str, float] | None:
        """The worker's event-loop lag while its calls were in flight."""
        if self._closed or self._gone:
            return self._final_lag
        batch, (future,) = self._register([()])
        self._send(msg.AskLoopLag(batch[0][0]))
        try:
            lag: dict[str, float] | None = future.result(timeout=CLOSE_TIMEOUT_S)
        except (concurrent.futures.TimeoutError, WorkerGone):
            return self._final_lag
        self._final_lag = lag
        return lag

    def halt(self) -> None:
        """Tell the worker process to send no new call (an interrupt; harness.run.signals)."""
        from harness.run.signals import halt_process

        halt_process(self._proc.pid)

    def discard(self) -> None:
        """End a worker that was never given a cell (see RunSession.expect_suite): killed,
        since it has nothing to finish or flush, and may still be importing."""
        with contextlib.suppress(OSError):
            self._proc.kill()
        self.close()

    def close(self) -> None:
        """Ask the worker to cancel what is in flight and exit; kill it if it will not."""
        if self._closed:
            return
        self._closed = True
        with self._replied:
            self._replied.notify_all()  # the reader reads on to the end
        self._send(msg.Close())
        self._outbox.put(None)
        self._writer.join(timeout=CLOSE_TIMEOUT_S)
        try:
            self._proc.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("worker process did not exit; killing it")
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=CLOSE_TIMEOUT_S)
        with contextlib.suppress(OSError):
            self._out.close()
        self._fail_pending("the run closed before the worker answered")
        self._log.close()
        self._remove_empty_log()

    def _remove_empty_log(self) -> None:
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size == 0:
                self.log_path.unlink()
                # A run that recorded nothing leaves no empty run directory behind.
                self.log_path.parent.rmdir()

    # -- plumbing --------------------------------------------------------------------------

    def _register(
        self, items: Iterable[tuple[Any, ...]]
    ) -> tuple[list[Any], list[concurrent.futures.Future[Any]]]:
        """A job id and a future for each item; the batch is the items with their ids."""
        batch: list[Any] = []
        futures: list[concurrent.futures.Future[Any]] = []
        with self._lock:
            for item in items:
                fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
                futures.append(fut)
                if self._gone is not None:
                    fut.set_exception(WorkerGone(self._gone))
                    continue
                job = next(self._ids)
                self._futures[job] = fut
                batch.append((job, *item))
        if batch:
            with self._replied:
                self._replied.notify_all()  # its answer must be read (see MAX_UNTAKEN)
        return batch, futures

    def _send(self, message: Any) -> None:
        """Queue a message for the writer thread: pytest never waits on the pipe (a batch of
        thousands of cells is larger than the pipe's buffer)."""
        if self._closed and not isinstance(message, msg.Close):
            raise RuntimeError("the worker is closed")
        self._outbox.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _write(self) -> None:
        """Writer thread: messages to the worker in order; None ends it."""
        from harness.run.signals import main_thread_only

        main_thread_only()
        while True:
            data = self._outbox.get()
            if data is None:
                break
            try:
                self._in.write(data)
                self._in.flush()
            except (BrokenPipeError, OSError) as exc:
                self._died(f"could not send to it ({exc})")
                return
        with contextlib.suppress(OSError):
            self._in.close()

    def _read(self) -> None:
        """Reader thread: hand each answer to its handler as its Replies arrive."""
        from harness.run.signals import main_thread_only

        main_thread_only()
        while True:
            self._hold_back()
            try:
                replies: msg.Replies = pickle.load(self._out)
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            if replies.progress is not None:
                self.progress = replies.progress
            for answer in replies.answers:
                self._handlers[type(answer)](answer)
            if self._answered:
                with self._replied:
                    self._cell_answers.update(self._answered)
                    self._replied.notify_all()
                self._answered = {}
        if not self._closed:
            self._died("it exited")

    def _hold_back(self) -> None:
        """Wait while enough answers are untaken and nothing this process waits for is
        unread (see MAX_UNTAKEN)."""
        with self._replied:
            while (
                len(self._cell_answers) >= MAX_UNTAKEN
                and not self._missing
                and not self._futures
                and not self._closed
                and self._gone is None
            ):
                self._replied.wait()

    def _cell_answered(self, answer: msg.CellAnswer) -> None:
        # Collected per burst: the waiting cells are woken once per Replies, not per cell.
        self._answered[answer.job] = answer

    def _resolve(self, answer: msg.CallDone | msg.LoopLag) -> None:
        with self._lock:
            fut = self._futures.pop(answer.job, None)
        if fut is not None and not fut.done():
            fut.set_result(answer.value)

    def _died(self, how: str) -> None:
        try:
            # Its pipe closed, so it is on its way out: wait a moment for its exit status.
            status: int | None = self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            status = None
        detail = f" (exit status {status})" if status is not None else ""
        self._fail_pending(
            f"the llm-harness worker process ended unexpectedly: {how}{detail}; "
            f"its log is {self.log_path}"
        )

    def _fail_pending(self, reason: str) -> None:
        with self._lock:
            if self._gone is None:
                self._gone = reason
            pending = list(self._futures.values())
            self._futures.clear()
        for fut in pending:
            if not fut.done():
                fut.set_exception(WorkerGone(reason))
        with self._replied:
            self._replied.notify_all()  # cells still waiting see _gone
