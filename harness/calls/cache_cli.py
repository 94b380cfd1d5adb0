"""`llm-harness cache stats|clear|verify`: the response cache from the command line.

Each action works on a damaged cache too: it says what is wrong and what to run, instead of
a traceback (see docs/security.md for why a cache folder is treated as untrusted data).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from harness.calls.cache import DB_FILE, CacheMode, ResponseCache
from harness.calls.cachedisk import settings_problem


def cache_command(action: str, path: Path, *, repair: bool = False) -> int:
    if not path.exists():
        print(f"no cache at {path}")
        return 0
    if not path.is_dir():
        print(f"llm-harness cache: {path} is not a folder; pass the cache folder with --dir",
              file=sys.stderr)
        return 2
    if action == "stats":
        why = settings_problem(path / DB_FILE)
        if why is not None:
            print(f"cache {path}: {DB_FILE} cannot be used ({why}); "
                  "run `llm-harness cache verify --repair` to move it aside", file=sys.stderr)
            return 1
    cache = ResponseCache(path, CacheMode.USE)
    try:
        for line in cache.problems:
            print(line, file=sys.stderr)
        if action == "stats":
            s = cache.stats()
            print(f"{s['entries']} responses, {s['bytes'] / 1e6:.1f} MB in {s['directory']}")
            return 0
        if action == "clear":
            removed = cache.clear()
            damaged = sorted(path.glob(f"{DB_FILE}.damaged-*"))
            for old in damaged:
                old.unlink()
            extra = f" and {len(damaged)} damaged db files" if damaged else ""
            print(f"removed {removed} responses{extra} from {path}")
            return 0
        return _verify(cache, path, repair)
    except sqlite3.Error as exc:
        print(f"cache {path}: the db is damaged ({exc}); "
              "run `llm-harness cache verify --repair`", file=sys.stderr)
        return 1
    finally:
        cache.close()


def _verify(cache: ResponseCache, path: Path, repair: bool) -> int:
    report = cache.verify(repair=repair)
    if report["db"] is not None:
        if repair:
            print(f"cache {path}: the db was damaged ({report['db']}); moved aside, "
                  "a new empty cache is in its place")
            return 0
        print(f"cache {path}: the db is damaged ({report['db']}); "
              "run `llm-harness cache verify --repair` to move it aside", file=sys.stderr)
        return 1
    line = f"{report['ok']} entries readable, {report['damaged']} damaged in {path}"
    if report["damaged"] and repair:
        print(f"{line}; removed {report['removed']}")
        return 0
    if report["damaged"]:
        print(f"{line}; run `llm-harness cache verify --repair` to remove them",
              file=sys.stderr)
        return 1
    print(line)
    return 0
