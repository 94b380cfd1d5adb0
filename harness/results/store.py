"""Results on disk: one run directory per session, results appended as they arrive.

Layout of a run directory (``--llm-out``, default ``reports/runs/<run-id>/``):
    results.jsonl   one Result per line, flushed as each cell completes
    summary.json    per (suite, target, temperature) aggregates, written at session end
    meta.json       run metadata (time, git commit, versions, price table date)
A crash or Ctrl-C leaves every finished line on disk; ``load_results`` skips a torn last line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.types import Result


def new_run_id() -> str:
    """Sortable and unique: ``20261124-153000-a1b2c3``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def encode(result: Result | dict[str, Any]) -> bytes:
    """A record as one results.jsonl line: the one encoding of a record on disk."""
    data = result.to_dict() if isinstance(result, Result) else result
    return (json.dumps(data, ensure_ascii=False, default=str) + "\n").encode("utf-8")


class RunStore:
    """Append-only writer for one run directory. Thread-safe (cells finish on any thread),
    and safe beside another process's RunStore on the same directory: each line is one
    write(2) to a file opened O_APPEND, which the kernel never interleaves with another
    append. Within a run only pytest's process writes (the worker process sends its
    records already encoded, see harness.run.worker.messages)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.results_path = self.out_dir / "results.jsonl"
        self._lock = threading.Lock()
        self._fd: int | None = None
        #: Where this writer's first line starts (a reused --llm-out folder has older
        #: ones); None until it writes one.
        self._start: int | None = None

    def append(self, result: Result | dict[str, Any] | bytes) -> None:
        """Write one record at once (no buffer), so a crash keeps every finished cell.
        ``bytes`` is a record encode() made already (the worker process does that)."""
        line = result if isinstance(result, bytes) else encode(result)
        with self._lock:
            if self._fd is None:
                self._fd = os.open(
                    self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
                )
                if self._start is None:
                    self._start = os.fstat(self._fd).st_size
            view = memoryview(line)
            while view:  # a regular file takes it whole; loop only for the odd short write
                view = view[os.write(self._fd, view) :]

    def read_back(self) -> Iterator[Result]:
        """The records this writer appended, read back one at a time in the order written."""
        if self._start is None:
            return iter(())
        return iter_results(self.results_path, self._start)

    def write_json(self, name: str, data: Any) -> Path:
        path = self.out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), "utf-8")
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def results_file(path: Path) -> Path:
    """Accept a run directory or a results.jsonl path."""
    path = Path(path)
    return path / "results.jsonl" if path.is_dir() else path


#: Fields every record has (no default), in field order: a line without one of them is not
#: a whole record.
REQUIRED_ORDER = tuple(
    f.name
    for f in dataclasses.fields(Result)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
REQUIRED_FIELDS = frozenset(REQUIRED_ORDER)


def iter_records(path: Path, start: int = 0) -> Iterator[dict[str, Any]]:
    """Each whole record of results.jsonl (from byte ``start``) as its dict, in file order.
    A line torn by a crash mid-write (not JSON, or lacking a field every record has) is
    skipped; the rest of the run is intact."""
    with open(results_file(path), "rb") as fh:
        fh.seek(start)
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                data = parse_line(line)
            except ValueError:  # not JSON, or not UTF-8
                continue
            if isinstance(data, dict) and data.keys() >= REQUIRED_FIELDS:
                yield data


def parse_line(line: bytes | str) -> Any:
    """One line's JSON, by pydantic-core's parser: ~1.7x json's speed on these lines, and one
    string object for each repeated short string (keys, statuses, targets) instead of a new
    one per line. By json's for what that refuses (an escaped lone surrogate, which
    json.dumps may write), so a line that is not JSON raises json's own error."""
    from pydantic_core import from_json

    try:
        return from_json(line, cache_strings="all")
    except ValueError:
        return json.loads(line)


def iter_results(path: Path, start: int = 0) -> Iterator[Result]:
    return map(Result.from_dict, iter_records(path, start))


def load_results(path: Path) -> list[Result]:
    return list(iter_results(path))


def load_meta(path: Path) -> dict[str, Any]:
    meta = results_file(path).parent / "meta.json"
    if meta.exists():
        data: dict[str, Any] = json.loads(meta.read_text("utf-8"))
        return data
    return {}
