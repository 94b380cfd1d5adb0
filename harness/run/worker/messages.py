"""The messages between pytest's process and its worker process (harness.run.worker.client).

Each message is a frozen dataclass, pickled whole over a pipe; each side keeps one handler
per message type in a dispatch table (client.WorkerClient._handlers,
child.Server.handlers). A ``job`` is a number the parent gives a cell or a question, unique
in the run; every job is answered exactly once.

pytest's process -> worker: Init (first, once), AddCells, Go, RunCalls, AskLoopLag, Close.
worker -> pytest's process: Replies, one per burst of work, carrying answers and the
runner's Progress: CellScored, CellLive, CellFailed (a cell's answer), CallDone, LoopLag
(the answer to a RunCalls job or an AskLoopLag).

This module imports nothing heavy: both processes load it before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.calls.outcome import CallOutcome, Progress
    from harness.config import Settings
    from harness.run.engine import Engine, Evaluated
    from harness.suite.model import Cell
    from harness.suite.targets import TargetSpec
    from harness.types import Request, Result


class WorkerJobError(Exception):
    """Scoring a cell raised in the worker; the message carries the worker's traceback."""


# -- pytest's process -> worker ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Init:
    """The run's settings; ``live``: providers whose calls cannot come from the cache (it
    is empty or not read), whose SDKs the worker loads first thing."""

    settings: Settings
    run_id: str
    live: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddCells:
    """Cells as collected: the worker renders them, reads their cache entries and loads the
    SDKs the misses need. Nothing is sent to a provider and nothing scored before Go."""

    cells: tuple[tuple[int, Cell], ...]


@dataclass(frozen=True, slots=True)
class Go:
    """Run and score these cells (job, node id); each is answered by one cell answer."""

    jobs: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class RunCalls:
    """Single calls (the ``llm`` fixture, judges) made on the run's one runner; each is
    answered by a CallDone. (Not ``Calls``: that is the Engine's interface to a runner.)"""

    calls: tuple[tuple[int, TargetSpec, Request], ...]


@dataclass(frozen=True, slots=True)
class AskLoopLag:
    """Ask for the runner's event-loop lag (answered by LoopLag)."""

    job: int


@dataclass(frozen=True, slots=True)
class Close:
    """Cancel what is in flight, answer what is done, and exit. Also what the worker's
    reader makes of a closed pipe."""


# -- worker -> pytest's process -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CellScored:
    """A cell the worker scored (a cache hit, an error): its Result, and the same record
    encoded as its results.jsonl line, which pytest's process writes as it is when it
    reports the cell. Both travel: the Result unpickles in pytest's process as fast as its
    dict would, without the dict's conversion (~12 us a cell), and encoding is left to the
    worker's core."""

    job: int
    result: Result
    line: bytes
    message: str | None

    def evaluated(self, engine: Engine, cell: Cell, nodeid: str) -> Evaluated:
        from harness.run.engine import Evaluated

        engine.forget(cell)
        return Evaluated(self.result, self.message, self.line)


@dataclass(frozen=True, slots=True)
class CellLive:
    """A cell answered live: pytest's process scores it. During calls the worker's one core
    is busy with the SDKs, while pytest's process has time as it waits."""

    job: int
    outcome: CallOutcome

    def evaluated(self, engine: Engine, cell: Cell, nodeid: str) -> Evaluated:
        return engine.evaluate(cell, self.outcome, nodeid)


@dataclass(frozen=True, slots=True)
class CellFailed:
    """Rendering or scoring the cell raised in the worker: its traceback."""

    job: int
    traceback: str

    def evaluated(self, engine: Engine, cell: Cell, nodeid: str) -> Evaluated:
        raise WorkerJobError(self.traceback)


@dataclass(frozen=True, slots=True)
class CallDone:
    job: int
    outcome: CallOutcome

    @property
    def value(self) -> Any:
        return self.outcome


@dataclass(frozen=True, slots=True)
class LoopLag:
    job: int
    lag: dict[str, float] | None

    @property
    def value(self) -> Any:
        return self.lag


CellAnswer = CellScored | CellLive | CellFailed
Answer = CellAnswer | CallDone | LoopLag


@dataclass(frozen=True, slots=True)
class Replies:
    """One burst of answers, with the runner's progress as it stands (None before the
    worker made its runner)."""

    answers: tuple[Answer, ...]
    progress: Progress | None
