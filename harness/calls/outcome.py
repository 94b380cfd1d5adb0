"""What one call came to (CallOutcome) and the run's running tally of calls (Progress).

Plain data, in a module of their own so that code which only reads outcomes (the worker's
messages, pytest's process beside a worker, the engine) does not import the runner and,
through it, the HTTP stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.types import Completion


@dataclass
class CallOutcome:
    completion: Completion | None = None
    error: HarnessError | None = None
    cached: bool = False
    #: What this run paid: 0 for a replayed answer, None when the model is unpriced.
    cost_usd: float | None = None
    #: What the call costs live (the original cost for a replayed answer).
    cost_if_live_usd: float | None = None
    retries: int = 0
    queue_ms: float = 0.0


@dataclass
class Progress:
    submitted: int = 0
    done: int = 0
    cache_hits: int = 0
    live: int = 0
    errors: int = 0
    #: Calls the provider could not take (unsupported setting, budget): skips, not errors.
    skipped: int = 0
    retries: int = 0
    spent_usd: float = 0.0
    reserved_usd: float = 0.0

    def line(self) -> str:
        return (
            f"llm calls {self.done}/{self.submitted} done, {self.cache_hits} from cache, "
            f"{self.live} live, {self.errors} errors, "
            + (f"{self.skipped} skipped, " if self.skipped else "")
            + f"{self.retries} retries, "
            f"${self.spent_usd:.4f} spent"
        )
