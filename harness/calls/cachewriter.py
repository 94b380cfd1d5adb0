"""Writes the answers a ResponseCache holds back (``put(defer=True)``) on a thread of its own.

Why not on the runner's loops: a write is a sqlite transaction (with its sync to disk), which
took milliseconds to tens of milliseconds on a busy disk; run on a loop that times calls, it
was timed as provider latency. On this thread the loops go on while sqlite works (the sqlite3
module lets go of the GIL during its I/O).

Answers are batched: the first one waiting schedules a write FLUSH_DELAY_S later, and every
answer that arrives meanwhile goes into the same transaction. Reads see waiting answers
already (ResponseCache keeps them in memory until written).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("harness.calls.cachewriter")

#: Answers are written at most this long after they arrive (a crash loses at most this much
#: of the cache; the results file has every answer).
FLUSH_DELAY_S = 0.05


class CacheWriter:
    """Calls ``flush`` on its own thread, at most ``delay`` after ``schedule()``."""

    def __init__(self, flush: Callable[[], None], delay: float = FLUSH_DELAY_S) -> None:
        self._flush = flush
        self._delay = delay
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._scheduled = False
        self._closing = False
        self._thread: threading.Thread | None = None

    def schedule(self) -> None:
        """An answer is waiting: write it (and whatever joins it) soon. Any thread."""
        with self._lock:
            if self._scheduled or self._closing:
                return
            self._scheduled = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="llm-harness-cache-writer", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread, then write what is still waiting, in the calling thread."""
        with self._lock:
            self._closing = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=30)
        self._write()

    def _serve(self) -> None:
        from harness.run.signals import main_thread_only

        main_thread_only()
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            time.sleep(self._delay)  # let the answers of the same burst join the batch
            with self._lock:
                self._scheduled = False
            self._write()

    def _write(self) -> None:
        try:
            self._flush()
        except Exception as exc:  # a full disk must not stop the calls; they are recorded
            log.warning("could not write answers to the cache: %s", exc)
