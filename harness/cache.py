"""Response cache on disk (diskcache), so reruns cost nothing and say so.

The key is a sha256 over an explicit list of the fields that change a provider's output
(KEY_FIELDS). Timeouts, streaming and retry settings are deliberately left out: they change
how a call is made, not what it returns. The repeat index is in: repeats are distinct samples.
The entry keeps the original latency, usage and cost so a replayed result can be judged on
its live figures without pretending to be live. Errors, truncated and empty responses are
never stored. diskcache is SQLite-backed and safe across processes (pytest-xdist workers).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.types import Completion, Request

log = logging.getLogger("harness.cache")

#: Bump when the entry format or key derivation changes; old entries then miss cleanly.
CACHE_VERSION = 1

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


class ResponseCache:
    def __init__(self, directory: Path, mode: CacheMode = CacheMode.USE) -> None:
        self.directory = Path(directory)
        self.mode = mode
        self._cache: Any = None
        self._preloaded: dict[str, Any] = {}
        #: Answers waiting for flush(); reads see them already.
        self._deferred: dict[str, dict[str, Any]] = {}
        if mode.uses_folder:
            import diskcache

            self.directory.mkdir(parents=True, exist_ok=True)
            # Never evict on write (cull_limit=0): responses are small, and an evicted answer
            # would be silently bought again. `llm-harness cache clear` empties it.
            self._cache = diskcache.Cache(
                str(self.directory), size_limit=4 * 2**30, cull_limit=0
            )

    def get(self, key: str) -> tuple[Completion, float | None] | None:
        """(completion, original cost) or None. Never raises for a corrupt entry."""
        if self._cache is None or not self.mode.reads:
            return None
        entry = self._preloaded.pop(key, None)
        if entry is None:
            entry = self._deferred.get(key)
        if entry is None:
            entry = self._cache.get(key)
        if not isinstance(entry, dict) or entry.get("v") != CACHE_VERSION:
            return None
        try:
            return Completion.from_dict(entry["completion"]), entry.get("cost_usd")
        except (KeyError, TypeError):
            return None

    def preload(self, key: str) -> bool:
        """Read an entry ahead of its get() (the worker does this while pytest collects).
        True when there is one; the next get() of this key then costs no disk read."""
        if self._cache is None or not self.mode.reads:
            return False
        entry = self._cache.get(key)
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
            self._deferred[key] = entry
        else:
            self._cache.set(key, entry)
        return True

    def flush(self) -> None:
        if not self._deferred or self._cache is None:
            return
        waiting = dict(self._deferred)
        with self._cache.transact():
            for key, entry in waiting.items():
                self._cache.set(key, entry)
        for key in waiting:
            self._deferred.pop(key, None)

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

    def close(self) -> None:
        if self._cache is not None:
            self.flush()
            self._cache.close()
