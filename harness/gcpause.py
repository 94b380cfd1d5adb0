"""Pausing the cyclic garbage collector around the end-of-run work.

The end of a run (summary, the report's data and pages, the exports) builds hundreds of
thousands of small containers from the run's results and frees none of them in cycles,
yet each automatic collection on the way went over every result again: with 50,000 cells,
half of summarize's time and two thirds of the report data's. Reference counting frees
everything as usual inside the block; a cycle made there waits for the next collection.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cyclic collection inside the block (left as it was after it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
