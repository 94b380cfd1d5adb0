"""Giving freed heap memory back to the operating system after a burst of short-lived objects.

Python frees objects to its own allocator and to C's malloc, and both keep the pages for
reuse: after a large suite is parsed (PyYAML's node tree of every case, gone once the cases
are built) or a worker has rendered and looked up every cell, tens of megabytes stay in the
process's resident size, unused, until it exits. glibc's ``malloc_trim`` hands the free pages
back (a 50,000-case suite: pytest's process 169 -> 149 MB after collection; see
docs/performance.md). Where the C library has no ``malloc_trim`` (macOS, musl) nothing
happens.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def give_back_free_memory() -> None:
    """Return the heap's free pages to the operating system (glibc; elsewhere a no-op).
    Takes a few milliseconds on a heap of hundreds of megabytes: call it after a burst of
    work that freed a lot, not per item."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
