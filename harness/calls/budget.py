"""The run's USD ceiling (``--llm-budget``): one ledger of spent and reserved money.

Every live call reserves its worst case before it is sent and settles with its real cost
when it ends, so the money spent never passes the budget:

- The worst case cannot undercount: input is bounded by the UTF-8 *bytes* of everything
  sent (a BPE token is at least one byte), plus per-message and per-request overheads and
  a fixed allowance for the tool-use prompt providers add, all at the full input price; the
  output by ``max_tokens`` at the output (or reasoning) price. (A chars/4 estimate let
  punctuation-dense prompts overshoot the budget by 137%.)
- A call that does not fit *waits* while other calls hold reservations (they usually settle
  for much less), and is refused only when nothing is reserved and it still does not fit:
  how many cells run does not depend on concurrency.
- One ledger per run: a file in the run directory under an exclusive lock when the run has
  several processes (pytest-xdist workers each run calls), in memory otherwise. The worker
  process beside pytest runs every call of its run, so it holds the only in-memory ledger.

A run cut short by the budget exits with BUDGET_EXIT_CODE and says how many cells did not
run (harness.run.finish).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from harness.calls.pricing import PriceTable
from harness.types import Request

#: Exit status of a run in which the budget stopped at least one cell (docs/ci.md).
BUDGET_EXIT_CODE = 7
#: How often a call waiting for budget looks again.
WAIT_S = 0.02
MESSAGE_OVERHEAD = 8
REQUEST_OVERHEAD = 16
#: Tokens a provider may add to a request with tools (Anthropic's tool-use system prompt is
#: documented at up to ~350 tokens).
TOOLS_OVERHEAD = 600


def shared_ledger_path(run_id: str) -> Path:
    """The ledger file the processes of run ``run_id`` share."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"llm-harness-budget-{run_id}"


def input_token_bound(request: Request) -> int:
    """An upper bound on the input tokens of ``request``: UTF-8 bytes plus overheads."""
    total = REQUEST_OVERHEAD
    for m in request.messages:
        total += MESSAGE_OVERHEAD + len(m.content.encode("utf-8")) + len(m.role)
    if request.tools:
        total += TOOLS_OVERHEAD
        for tool in request.tools:
            spec = {"name": tool.name, "description": tool.description,
                    "parameters": tool.parameters}
            total += len(json.dumps(spec).encode("utf-8"))
    if request.response_schema is not None and request.structured != "none":
        total += len(json.dumps(request.response_schema).encode("utf-8"))
    return total


def call_ceiling(request: Request, prices: PriceTable) -> float | None:
    """The most this call can cost in USD; None when the model is unpriced."""
    from harness.calls.estimate import _cost

    price = prices.price_for(request.provider, request.model)
    if price is None:
        return None
    return _cost(input_token_bound(request), request.max_tokens, price)


class Ledger:
    """Spent and reserved USD of one run, shared by every thread (and, with ``path``,
    every process) that makes its calls."""

    _RECORD = struct.Struct("<dd")  # spent, reserved

    def __init__(self, budget: float, path: Path | None = None) -> None:
        self.budget = budget
        self.path = path
        self._lock = threading.Lock()
        self._spent = 0.0
        self._reserved = 0.0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)

    @contextlib.contextmanager
    def _state(self) -> Iterator[list[float]]:
        with self._lock:
            if self.path is None:
                state = [self._spent, self._reserved]
                yield state
                self._spent, self._reserved = state
                return
            fd = os.open(self.path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                data = os.pread(fd, self._RECORD.size, 0)
                state = list(self._RECORD.unpack(data)) if len(data) == self._RECORD.size \
                    else [0.0, 0.0]
                before = list(state)
                yield state
                if state != before:
                    os.pwrite(fd, self._RECORD.pack(*state), 0)
            finally:
                os.close(fd)  # closing releases the lock

    def try_reserve(self, amount: float) -> bool | None:
        """True: reserved. False: does not fit now, but reservations are held (wait and try
        again). None: does not fit and nothing is held: it never will."""
        with self._state() as state:
            spent, reserved = state
            if spent + reserved + amount <= self.budget + 1e-12:
                state[1] = reserved + amount
                return True
            return False if reserved > 1e-12 else None

    def settle(self, reserved: float, cost: float) -> None:
        """A call ended: give back its reservation and book what it really cost."""
        with self._state() as state:
            state[0] += cost
            state[1] = max(0.0, state[1] - reserved)

    def totals(self) -> tuple[float, float]:
        with self._state() as state:
            return state[0], state[1]
