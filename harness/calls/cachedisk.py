"""How the response cache lies on disk: JSON values only, and a check that a db is ours.

A cache folder is not trusted data: CI restores it from other runs, and anyone who can write
a pull request's cache can write it. diskcache's default Disk pickles values (and unpickles
whatever a row says is a pickle), so a crafted row would run code on read. ``DataDisk``
stores every value as UTF-8 JSON bytes and refuses, on read, any row that is not raw bytes or
whose file lies outside the cache folder; ``settings_problem`` refuses a db whose Settings
table holds anything diskcache would turn into a PRAGMA or an attribute we did not set.
Nothing here ever unpickles.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import DEFAULT_SETTINGS, METADATA, MODE_RAW, UNKNOWN


class CorruptEntry(ValueError):
    """A cache row this harness did not write (or that was damaged): read as a miss."""


class DataDisk(diskcache.Disk):
    """diskcache Disk that keeps str keys and JSON values and never unpickles."""

    def __init__(self, directory: str, **kwargs: Any) -> None:
        # Disk settings come from the db's Settings table; only the file-size threshold is
        # meaningful for raw bytes, the rest (pickle protocol) is ignored on purpose.
        min_file_size = kwargs.get("min_file_size", 0)
        if not isinstance(min_file_size, int):
            min_file_size = 0
        super().__init__(directory, min_file_size=min_file_size)
        self._root = os.path.realpath(directory)

    def put(self, key: Any) -> tuple[Any, bool]:
        if not isinstance(key, str):
            raise TypeError(f"cache keys are str, not {type(key).__name__}")
        return key, True

    def get(self, key: Any, raw: bool) -> Any:
        if not raw or not isinstance(key, str):
            raise CorruptEntry("a key that is not text")
        return key

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> Any:
        data = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        return super().store(data, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode != MODE_RAW or read:
            raise CorruptEntry(f"a row stored in mode {mode}, not JSON bytes")
        if filename is not None:
            self._inside(filename)
        data = super().fetch(mode, filename, value, read)
        if not isinstance(data, bytes | str):
            raise CorruptEntry("a value that is not bytes")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptEntry(f"a value that is not JSON ({exc})") from None

    def remove(self, file_path: str) -> None:
        # A crafted row may name any path; `cache clear` must not delete outside the folder.
        try:
            self._inside(file_path)
        except CorruptEntry:
            return
        super().remove(file_path)

    def _inside(self, filename: str) -> str:
        full = os.path.realpath(os.path.join(self._root, filename))
        if os.path.commonpath([full, self._root]) != self._root or full == self._root:
            raise CorruptEntry(f"a value file outside the cache folder: {filename!r}")
        return full


#: Settings diskcache reads back from the db, with the type each must have.
_KNOWN_SETTINGS = {**DEFAULT_SETTINGS, **METADATA}


def settings_problem(db: Path) -> str | None:
    """Why the db at ``db`` must not be opened by diskcache (not a database, damaged, or a
    Settings table this harness did not write), else None. A missing db is fine."""
    if not db.exists() and not db.is_symlink():
        return None
    if not db.is_file():
        return "it is not a file"
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        return f"it cannot be opened ({exc})"
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        if "Settings" not in tables:
            return None if not tables else "it has no Settings table"
        rows = con.execute("SELECT key, value FROM Settings").fetchall()
    except sqlite3.Error as exc:
        return f"it is not a readable SQLite database ({exc})"
    finally:
        con.close()
    for key, value in rows:
        if key not in _KNOWN_SETTINGS:
            return f"its Settings table names {key!r}, which this harness never writes"
        default = _KNOWN_SETTINGS[key]
        # A PRAGMA value is formatted into SQL by diskcache: only plain words and numbers.
        if isinstance(value, str):
            word = value.replace("_", "") if key.startswith("sqlite_") else value
            if key == "eviction_policy":
                word = value.replace("-", "")
            if not isinstance(default, str) or not word.isalnum():
                return f"its Settings table holds {value!r} for {key!r}"
        elif not isinstance(value, int | float) or isinstance(default, str):
            return f"its Settings table holds {value!r} for {key!r}"
    return None


def integrity_problem(db: Path) -> str | None:
    """SQLite's own check of every page (slower than settings_problem: `cache verify`)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        try:
            rows = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"it is not a readable SQLite database ({exc})"
    if rows != [("ok",)]:
        return "SQLite integrity check: " + "; ".join(str(r[0]) for r in rows[:3])
    return None
