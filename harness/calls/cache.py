"""Response cache on disk (diskcache), so reruns cost nothing and say so.

The key is a sha256 over an explicit list of the fields that change a provider's output
(KEY_FIELDS). Timeouts, streaming and retry settings are deliberately left out: they change
how a call is made, not what it returns. The repeat index is in: repeats are distinct samples.
The entry keeps the original latency, usage and cost so a replayed result can be judged on
its live figures without pretending to be live. Errors, truncated and empty responses are
never stored. diskcache is SQLite-backed and safe across processes (pytest-xdist workers).
Values are JSON, never pickles: a cache folder is data anyone restoring it may have written
(docs/security.md); nothing in it can make a run fail or run code.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.types import Completion, Request

log = logging.getLogger("harness.calls.cache")

#: Bump when the entry format or key derivation changes; old entries then miss cleanly.
CACHE_VERSION = 2  # 2: JSON values (harness.calls.cachedisk), no pickles

KEY_FIELDS = (
    "provider",
    "model",
    "messages",
    "temperature",
    "max_tokens",
    "response_schema",
    "structured",
    "tools",
    "tool_choice",
    "seed",
    "repeat",
    "options",
)

# Options that shape the transport, not the answer (and secrets never belong in a key).
_TRANSPORT_OPTIONS = {"strict_validation", "n_threads", "api_key_env", "timeout"}


class CacheMode(enum.StrEnum):
    """What ``--llm-cache`` means, in one place: every stage asks the mode (reads, writes,
    offline, surely_misses) instead of comparing it with a value.

    use: read and write; refresh: call and overwrite; replay: read only, a miss fails the
    cell and nothing is sent; off: neither read nor write (the cache folder is not used)."""

    USE = "use"
    REFRESH = "refresh"
    REPLAY = "replay"
    OFF = "off"

    @classmethod
    def parse(cls, value: str) -> CacheMode:
        try:
            return cls(value.strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"invalid cache mode {value!r}; valid modes: {valid}") from None

    @property
    def reads(self) -> bool:
        """Answers are looked up in the cache."""
        return self in (CacheMode.USE, CacheMode.REPLAY)

    @property
    def writes(self) -> bool:
        """Live answers are stored."""
        return self in (CacheMode.USE, CacheMode.REFRESH)

    @property
    def offline(self) -> bool:
        """Nothing is sent: a miss fails the cell, and no API key is needed for what the
        cache holds."""
        return self is CacheMode.REPLAY

    @property
    def uses_folder(self) -> bool:
        """The cache folder is used at all (also for the parsed-suite cache)."""
        return self is not CacheMode.OFF

    def surely_misses(self, directory: Path) -> bool:
        """Every call will be live: the cache is not read, or holds nothing yet."""
        if not self.reads:
            return True
        return not self.offline and not (Path(directory) / DB_FILE).exists()


#: The file diskcache keeps its index in: there is no cache before it exists.
DB_FILE = "cache.db"
#: Entries preload() keeps for their get() at most (about 2 KB each); past it, it only checks.
PRELOAD_LIMIT = 5000
#: SQLite's page cache per connection, in 4 KB pages (diskcache's default is 8192: 32 MB).
#: The operating system caches the file anyway; at 50,000 entries the larger cache only
#: held ~30 MB more in the worker, for no measurable speed (bench/bench_scale.py).
SQLITE_CACHE_PAGES = 1024
#: Bytes of the database SQLite maps into memory (diskcache's default: 64 MB). Mapped pages a
#: process has read count in its resident size: a 50,000-answer rerun read the whole index
#: that way (the worker ~35 MB more); read into the page cache above instead, the operating
#: system still caches the file.
SQLITE_MMAP_BYTES = 0


def key_parts(request: Request, base_url: str | None = None) -> dict[str, Any]:
    parts = {name: getattr(request, name) for name in KEY_FIELDS}
    parts["messages"] = [[m.role, m.content] for m in request.messages]
    parts["tools"] = [asdict(t) for t in request.tools]
    parts["options"] = {k: v for k, v in request.options.items() if k not in _TRANSPORT_OPTIONS}
    # The endpoint matters for openai-compatible servers (two servers, same model name).
    parts["base_url"] = base_url
    parts["v"] = CACHE_VERSION
    return parts


def cache_key(request: Request, base_url: str | None = None) -> str:
    parts = key_parts(request, base_url)
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()
    if log.isEnabledFor(logging.DEBUG):
        # Key parts without message text: prompts are not logged by default.
        shown = {k: v for k, v in parts.items() if k != "messages"}
        log.debug("cache key %s from %s (+%d messages)", key[:12], shown, len(request.messages))
    return key


def cacheable(completion: Completion) -> str | None:
    """Why a completion must not be cached, or None when it may be."""
    if completion.finish_reason == "length":
        return "truncated at max_tokens"
    if completion.finish_reason == "error":
        return "error"
    if not completion.text.strip() and not completion.tool_calls:
        return "empty response"
    return None


#: Errors that mean a cache entry or db is unreadable: a miss plus one warning, never fatal.
#: (harness.calls.cachedisk.CorruptEntry is a ValueError.)
_READ_ERRORS: tuple[type[Exception], ...] = (
    OSError, ValueError, TypeError, KeyError, AttributeError, sqlite3.Error,
)


class ResponseCache:
    """The response cache of one folder. Values are JSON (harness.calls.cachedisk): a cache is
    data that others can write, never code. A damaged entry is a miss plus one warning; a db
    that cannot be used is moved aside and replaced by an empty one (see ``problems``)."""

    def __init__(self, directory: Path, mode: CacheMode = CacheMode.USE) -> None:
        self.directory = Path(directory)
        self.mode = mode
        self._cache: Any = None
        self._preloaded: dict[str, Any] = {}
        #: Answers waiting for flush(); reads see them already.
        self._deferred: dict[str, dict[str, Any]] = {}
        #: put() runs on the runner's lanes while its cache writer flushes.
        self._deferred_lock = threading.Lock()
        #: What went wrong with this cache, one line each, for the run's summary.
        self.problems: list[str] = []
        self._said: set[str] = set()
        if mode.uses_folder:
            self._cache = self._open()

    @property
    def db_path(self) -> Path:
        return self.directory / "cache.db"

    def _open(self) -> Any:
        import diskcache

        from harness.calls.cachedisk import DataDisk, settings_problem

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._warn("open", f"the folder cannot be created ({exc}); running without it")
            return None
        for attempt in (1, 2):
            why = settings_problem(self.db_path)
            if why is None:
                try:
                    # Never evict on write (cull_limit=0): responses are small, and an evicted
                    # answer would be silently bought again. `llm-harness cache clear` empties
                    # it.
                    return diskcache.Cache(
                        str(self.directory),
                        disk=DataDisk,
                        size_limit=4 * 2**30,
                        cull_limit=0,
                        sqlite_cache_size=SQLITE_CACHE_PAGES,
                        sqlite_mmap_size=SQLITE_MMAP_BYTES,
                    )
                except (sqlite3.Error, OSError) as exc:
                    why = f"it cannot be opened ({exc})"
            if attempt == 2 or not self._move_aside(why):
                break
        self._warn("open", f"cache.db cannot be used ({why}); running without the cache")
        return None

    def _move_aside(self, why: str) -> bool:
        """Rename a db that cannot be used (and its journal files) so a fresh one can be
        made; the old one is kept for inspection. False when it cannot be moved."""
        aside = self.db_path.with_name(f"cache.db.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            if self.db_path.exists() or self.db_path.is_symlink():
                self.db_path.rename(aside)
            for suffix in ("-wal", "-shm"):
                journal = self.db_path.with_name("cache.db" + suffix)
                if journal.exists():
                    journal.rename(aside.with_name(aside.name + suffix))
        except FileNotFoundError:
            pass  # another process moved it first
        except OSError as exc:
            self._warn("move", f"cache.db cannot be used ({why}) nor moved aside ({exc})")
            return False
        self._warn(
            "moved",
            f"cache.db could not be used ({why}); moved it to {aside.name} and started an "
            "empty cache (delete the old file once you no longer need it)",
        )
        return True

    def _warn(self, kind: str, text: str) -> None:
        """One warning per kind of problem and cache, however many entries share it."""
        if kind in self._said:
            return
        self._said.add(kind)
        line = f"cache {self.directory}: {text}"
        self.problems.append(line)
        log.warning("%s", line)

    def _read(self, key: str) -> Any:
        try:
            return self._cache.get(key)
        except _READ_ERRORS as exc:
            self._warn(
                "entry",
                f"unreadable entry ignored ({exc}); it is called again and replaced. "
                "Run `llm-harness cache verify --repair` to drop every damaged entry",
            )
            return None

    def get(self, key: str) -> tuple[Completion, float | None] | None:
        """(completion, original cost) or None. Never raises for a corrupt entry."""
        if self._cache is None or not self.mode.reads:
            return None
        entry = self._preloaded.pop(key, None)
        if entry is None:
            entry = self._deferred.get(key)
        if entry is None:
            entry = self._read(key)
        if entry is None:
            return None
        if not isinstance(entry, dict) or entry.get("v") != CACHE_VERSION:
            self._warn("shape", "an entry in an unknown format was ignored (a miss)")
            return None
        try:
            return _completion(entry["completion"]), _cost(entry.get("cost_usd"))
        except _READ_ERRORS as exc:
            self._warn(
                "shape",
                f"an entry in an unknown format was ignored ({type(exc).__name__}: {exc})",
            )
            return None

    @property
    def read_ahead_full(self) -> bool:
        """preload() holds PRELOAD_LIMIT entries waiting for their get(): it only checks."""
        return len(self._preloaded) >= PRELOAD_LIMIT

    def preload(self, key: str) -> bool:
        """Read an entry ahead of its get() (the worker does this while pytest collects).
        True when there is one; the next get() of this key then costs no disk read. Past
        PRELOAD_LIMIT entries waiting for their get(), it only says whether there is one:
        a 50,000-cell rerun otherwise held every answer in memory before the first was used."""
        if self._cache is None or not self.mode.reads:
            return False
        if len(self._preloaded) >= PRELOAD_LIMIT:
            try:
                return key in self._cache
            except _READ_ERRORS:
                return False
        entry = self._read(key)
        if entry is None:
            return False
        self._preloaded[key] = entry
        return True

    def put(
        self, key: str, completion: Completion, cost_usd: float | None, *, defer: bool = False
    ) -> bool:
        """Store an answer. With ``defer`` it waits for flush(), which writes all waiting
        answers in one transaction (a quarter of the cost of one write each); the runner
        flushes within FLUSH_DELAY_S and when it closes."""
        if self._cache is None or not self.mode.writes or cacheable(completion) is not None:
            return False
        entry = {
            "v": CACHE_VERSION,
            "completion": completion.to_dict(),
            "cost_usd": cost_usd,
            "stored_at": time.time(),
        }
        if defer:
            with self._deferred_lock:
                self._deferred[key] = entry
            return True
        try:
            self._cache.set(key, entry)
        except _READ_ERRORS as exc:
            self._warn("write", f"answers could not be stored ({exc}); they are in results")
            return False
        return True

    def flush(self) -> None:
        """Write the waiting answers in one transaction. Safe beside put() on other threads
        (the runner's lanes put while its cache writer flushes): an entry replaced meanwhile
        stays waiting for the next flush."""
        if not self._deferred or self._cache is None:
            return
        with self._deferred_lock:
            waiting = dict(self._deferred)
        try:
            with self._cache.transact():
                for key, entry in waiting.items():
                    self._cache.set(key, entry)
        except _READ_ERRORS as exc:
            self._warn("write", f"answers could not be stored ({exc}); they are in results")
        with self._deferred_lock:
            for key, entry in waiting.items():
                if self._deferred.get(key) is entry:
                    del self._deferred[key]

    def iter_keys(self) -> Iterator[str]:
        """Every stored key (answers waiting for flush() included), for ``cache merge``;
        read each with get()."""
        if self._cache is None:
            return
        yield from self._deferred
        for key in self._cache.iterkeys():
            if isinstance(key, str) and key not in self._deferred:
                yield key

    def stats(self) -> dict[str, Any]:
        if self._cache is None:
            return {"entries": 0, "bytes": 0, "directory": str(self.directory)}
        return {
            "entries": len(self._cache),
            "bytes": self._cache.volume(),
            "directory": str(self.directory),
        }

    def clear(self) -> int:
        if self._cache is None:
            return 0
        count: int = self._cache.clear()
        return count

    def verify(self, repair: bool = False) -> dict[str, Any]:
        """Read every entry as a run would. Returns counts of good and damaged entries (and,
        with ``repair``, deletes the damaged ones). A db SQLite itself finds damaged is
        moved aside and replaced (with ``repair``) or reported."""
        from harness.calls.cachedisk import integrity_problem

        report: dict[str, Any] = {"directory": str(self.directory), "ok": 0, "damaged": 0,
                                  "removed": 0, "db": None}
        if self._cache is None:
            report["db"] = self.problems[-1] if self.problems else "no cache"
            return report
        why = integrity_problem(self.db_path)
        if why is not None:
            report["db"] = why
            if repair:
                self._cache.close()
                self._move_aside(why)
                self._cache = self._open()
            return report
        bad: list[int] = []
        for rowid, key, raw, mode, filename, value in self._rows():
            try:
                if not raw or not isinstance(key, str):
                    raise ValueError("key")
                entry = self._cache.disk.fetch(mode, filename, value, False)
                if not isinstance(entry, dict) or entry.get("v") != CACHE_VERSION:
                    raise ValueError("format")
                _completion(entry["completion"])
                _cost(entry.get("cost_usd"))
                report["ok"] += 1
            except Exception:  # any failure to read is what verify is looking for
                report["damaged"] += 1
                bad.append(rowid)
        if repair and bad:
            report["removed"] = self._delete_rows(bad)
        return report

    def _rows(self) -> Any:

        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=60)
        try:
            yield from con.execute(
                "SELECT rowid, key, raw, mode, filename, value FROM Cache"
            )
        finally:
            con.close()

    def _delete_rows(self, rowids: list[int]) -> int:

        con = sqlite3.connect(str(self.db_path), timeout=60)
        try:
            with con:
                files = [
                    row[0]
                    for rowid in rowids
                    for row in con.execute("SELECT filename FROM Cache WHERE rowid = ?", (rowid,))
                    if row[0]
                ]
                # diskcache's triggers keep its count and size settings right.
                con.executemany("DELETE FROM Cache WHERE rowid = ?", [(r,) for r in rowids])
        finally:
            con.close()
        for name in files:
            self._cache.disk.remove(name)  # DataDisk.remove stays inside the folder
        return len(rowids)

    def close(self) -> None:
        if self._cache is not None:
            self.flush()
            try:
                self._cache.close()
            except sqlite3.Error as exc:
                log.debug("closing the cache failed: %s", exc)


def merge_caches(sources: list[Path], dest: Path) -> dict[str, int]:
    """Fold the answers of ``sources`` into the cache at ``dest`` (created if missing), as
    CI's merge job does with the shards' caches. Only the public get/put/keys are used, so
    this follows whatever format the cache stores. An answer DEST already has is kept (the
    same key is the same request; the first answer recorded stays the one replayed), as is
    the first of several sources that hold the same key. Returns counts: added, kept
    (already present), unreadable (entries get() could not read)."""
    counts = {"added": 0, "kept": 0, "unreadable": 0}
    target = ResponseCache(dest, CacheMode.USE)
    try:
        for source in sources:
            src = ResponseCache(source, CacheMode.REPLAY)  # read-only
            try:
                for key in src.iter_keys():
                    if target.get(key) is not None:
                        counts["kept"] += 1
                        continue
                    hit = src.get(key)
                    if hit is None:
                        counts["unreadable"] += 1
                        continue
                    completion, cost = hit
                    target.put(key, completion, cost, defer=True)
                    counts["added"] += 1
            finally:
                src.close()
            target.flush()
    finally:
        target.close()
    return counts


def _completion(data: Any) -> Completion:
    """A Completion from a stored dict, with the types scoring relies on checked."""
    if not isinstance(data, dict):
        raise TypeError("completion is not an object")
    completion = Completion.from_dict(data)
    if not isinstance(completion.text, str) or not isinstance(completion.finish_reason, str):
        raise TypeError("completion text or finish_reason is not text")
    if not isinstance(completion.latency_ms, int | float):
        raise TypeError("latency_ms is not a number")
    if not isinstance(completion.stall_ms, int | float) or not isinstance(
        completion.provider_ms, int | float | None
    ):
        raise TypeError("stall_ms or provider_ms is not a number")
    return completion


def _cost(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"cost_usd is {value!r}")
    return float(value)


