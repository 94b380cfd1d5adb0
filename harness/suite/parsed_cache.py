"""Parsed suites kept on disk, so collecting an unchanged suite skips YAML and validation.

Loading a 5000-case suite (YAML parse, pydantic validation, the checks that name a line)
takes ~0.3 s, and importing the loader's libraries ~0.15 s more; a rerun of the same suite
reads the stored result instead. An entry is used only when the suite file, every file it
read (datasets, schema) and the code that loads and defines a suite are byte-for-byte what
they were; anything else, and any unreadable entry, means a normal load. Only suites that
loaded cleanly are kept, so every problem is still reported by the loader, with its line.

Entries live in ``<cache dir>/suites/`` as JSON (never pickles: a cache folder is data others
may have written, see docs/security.md). Only the suite classes named in ``_CLASSES`` are
rebuilt from an entry; a suite whose values JSON cannot carry exactly (a YAML date, say) is
simply not stored. With ``--llm-cache=off`` nothing is read or written.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import __version__
from harness.codeversion import code_digest
from harness.suite.model import Case, PromptVariant, Suite
from harness.suite.targets import TargetSpec
from harness.types import Message, Tool

log = logging.getLogger("harness.suite.parsed_cache")

#: A suite of at least this many cases is rebuilt from its stored form after its YAML parse
#: (load_suite_cached): what the parse freed is then given back whole.
COMPACT_CASES = 10_000
#: Bump when the entry layout changes.
ENTRY_FORMAT = 3  # 2: JSON; 3: a suite's cases as one table of rows


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


#: The code a loaded suite depends on: its classes, the loader and the checks it runs.
_CODE = ("suite", "types.py", "scoring")


@functools.cache
def _code_version() -> str:
    # A changed definition or loader rule must not be fed an old entry.
    return code_digest(*_CODE, extra=__version__)


def _entry_path(cache_dir: Path, suite_path: Path) -> Path:
    name = hashlib.sha256(str(suite_path.resolve()).encode()).hexdigest()[:24]
    return cache_dir / "suites" / f"{name}.json"


#: The only classes an entry can rebuild (by name); anything else makes it unreadable.
_CLASSES: dict[str, type] = {
    c.__name__: c for c in (Suite, Case, PromptVariant, TargetSpec, Tool, Message)
}


def _encode(value: Any) -> Any:
    """JSON-ready form of a loaded suite; tuples, paths and dataclasses tagged so decoding
    gives back equal objects. Raises TypeError for a value JSON cannot carry."""
    if isinstance(value, tuple) and value and all(type(v) is Case for v in value):
        return {"@": "cases", "rows": [_case_row(c) for c in value]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _CLASSES.get(name) is not type(value):
            raise TypeError(f"{name} is not a suite class")
        return {"@": name, "f": {f.name: _encode(getattr(value, f.name))
                                 for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"@": "tuple", "v": [_encode(v) for v in value]}
    if isinstance(value, Path):
        return {"@": "path", "v": str(value)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a mapping with keys that are not text")
        return {"@": "dict", "v": {k: _encode(v) for k, v in value.items()}}
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise TypeError(f"{type(value).__name__} values are not stored")


# A suite's cases are most of an entry (50,000 of them in a large suite): each is one row
# of its fields in order, not a tagged object of named fields, which read ~5x slower. Their
# values are what YAML and JSON datasets give (text, numbers, lists, mappings); anything
# else does not come back equal, and the suite is then not stored (see _write).
_CASE_FIELDS = tuple(f.name for f in dataclasses.fields(Case))
#: Positions of the fields that hold tuples (JSON gives lists back).
_CASE_TUPLES = frozenset(
    i for i, f in enumerate(dataclasses.fields(Case)) if str(f.type).startswith("tuple")
)


def _case_row(case: Case) -> list[Any]:
    row = [getattr(case, name) for name in _CASE_FIELDS]
    return [list(v) if i in _CASE_TUPLES else v for i, v in enumerate(row)]


def _case(row: list[Any]) -> Case:
    if len(row) != len(_CASE_FIELDS):
        raise ValueError("a case row of another layout")
    values: list[Any] = [tuple(v) if i in _CASE_TUPLES else v for i, v in enumerate(row)]
    return Case(*values)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value["@"]
    if tag == "cases":
        return tuple(_case(row) for row in value["rows"])
    if tag == "tuple":
        return tuple(_decode(v) for v in value["v"])
    if tag == "path":
        return Path(value["v"])
    if tag == "dict":
        return {k: _decode(v) for k, v in value["v"].items()}
    cls = _CLASSES[tag]  # KeyError: not a suite class
    return cls(**{k: _decode(v) for k, v in value["f"].items()})


def load_suite_cached(
    path: Path,
    cache_dir: Path | None,
    judge: str | None = None,
    *,
    deferred: list[Callable[[], None]] | None = None,
) -> Suite:
    """The suite at ``path``, from the parse cache when it is still valid (see module doc);
    ``cache_dir`` None loads without the cache. ``judge``: the run's default judge, part of
    what an entry was loaded with (another judge means another parse). ``deferred``: the
    entry's write (~0.25 s for 5000 cases) is appended there for the caller to run later,
    instead of now (collection hands the cells to the worker process first)."""
    if cache_dir is None:
        from harness.suite.loader import load_suite

        return load_suite(path, judge)
    entry_path = _entry_path(cache_dir, path)
    suite_digest = _digest(path)
    cached = _read(entry_path, path, suite_digest, judge)
    if cached is not None:
        return cached
    from harness.suite.loader import load_suite

    suite = load_suite(path, judge)  # raises SuiteError for a bad suite: nothing is stored
    verified = False
    if len(suite.cases) >= COMPACT_CASES:
        # The cases built from YAML sit among the freed nodes of its parse, which then stay
        # in the process (~45 MB at 50,000 cases): the same suite decoded from its stored
        # form is built apart from them, and what the parse used is freed whole.
        stored = _stored_form(suite)
        if stored is not None:
            # (Its encoded form refers to the parsed objects: encoded again when written.)
            suite, verified = stored[0], True
    write = functools.partial(_write, entry_path, suite, suite_digest, judge, verified=verified)
    if deferred is None:
        write()
    else:
        deferred.append(write)
    return suite


def _read(
    entry_path: Path, path: Path, suite_digest: str | None, judge: str | None = None
) -> Suite | None:
    if suite_digest is None:
        return None
    try:
        entry: dict[str, Any] = json.loads(entry_path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # a truncated or foreign file: load, then replace it
        log.debug("ignoring unreadable suite cache entry %s: %s", entry_path, exc)
        return None
    try:
        valid = (
            entry["format"] == ENTRY_FORMAT
            and entry["code"] == _code_version()
            and entry["path"] == str(path.resolve())
            and entry["digest"] == suite_digest
            and entry.get("judge") == judge
            and all(_digest(Path(dep)) == digest for dep, digest in entry["sources"])
        )
        suite = _decode(entry["suite"]) if valid else None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.debug("ignoring unreadable suite cache entry %s: %s", entry_path, exc)
        return None
    if not valid or not isinstance(suite, Suite):
        return None
    if suite.path != path:
        # The same file reached by another spelling (relative/absolute): keep the caller's,
        # which is what item ids and messages are built from.
        from dataclasses import replace

        suite = replace(suite, path=path)
    return suite


def _stored_form(suite: Suite) -> tuple[Suite, Any] | None:
    """The suite decoded from its stored form, and that form (encoded); None when decoding
    does not give back an equal suite (a value JSON cannot carry exactly: it is then never
    stored)."""
    try:
        encoded = _encode(suite)
        back = _decode(json.loads(json.dumps(encoded, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        log.debug("the parsed suite %s has no stored form: %s", suite.path, exc)
        return None
    return (back, encoded) if back == suite else None


def _write(
    entry_path: Path,
    suite: Suite,
    suite_digest: str | None,
    judge: str | None = None,
    *,
    verified: bool = False,
) -> None:
    """Store ``suite``; ``verified``: it was decoded from its stored form (_stored_form),
    so that form is not checked again."""
    if suite_digest is None:
        return
    if verified:
        encoded = _encode(suite)
    else:
        stored = _stored_form(suite)
        if stored is None:
            return  # only costs the next run a parse
        encoded = stored[1]
    entry = {
        "format": ENTRY_FORMAT,
        "code": _code_version(),
        "path": str(suite.path.resolve()),
        "digest": suite_digest,
        "judge": judge,
        "sources": [(str(p.resolve()), _digest(p)) for p in suite.sources],
        "suite": encoded,
    }
    try:
        entry_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry, allow_nan=False))
        os.replace(tmp, entry_path)  # atomic: a concurrent reader sees old or new, whole
    except OSError as exc:  # a read-only cache dir only costs the next run a parse
        log.debug("could not store the parsed suite in %s: %s", entry_path, exc)
