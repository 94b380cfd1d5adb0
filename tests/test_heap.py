"""harness.heap: freed heap pages go back to the system where the C library can do it."""

from __future__ import annotations

import platform
import sys

import pytest

from harness import heap


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)
def test_freed_memory_goes_back_to_the_system_on_glibc() -> None:
    assert heap._malloc_trim() is not None
    # 64 MB in blocks of 100 KB (C malloc's, not Python's small-object arenas), the first
    # one kept so that what is freed lies below a block still in use: malloc keeps those
    # pages until it is told to give them back.
    blocks = [bytearray(100_000) for _ in range(640)]
    for b in blocks:
        b[::4096] = b"\x01" * len(b[::4096])  # touched: resident
    keep = blocks[-1]
    del blocks[:-1]
    before = _rss_kb()
    heap.give_back_free_memory()
    assert _rss_kb() < before - 20_000, (before, _rss_kb())
    assert len(keep) == 100_000


def test_giving_back_is_harmless_anywhere() -> None:
    heap.give_back_free_memory()
    heap.give_back_free_memory()
