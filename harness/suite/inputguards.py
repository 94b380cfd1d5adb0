"""Guards the suite loader runs on files a pull request can edit: every problem one
SuiteError naming the file, the line where there is one, and the fix.

Kept apart from harness.suite.loader so the loader's own changes and these checks merge cleanly.
What is refused: directories and undecodable or oversized files where a file is expected, a
byte-order mark, duplicate YAML keys, YAML whose aliases expand past a limit (an "alias
bomb"), NaN or infinite numbers, out-of-range temperatures and temperatures that would give
two cells the same id, ragged CSV rows, and JSON-schema references to anything but local
files. Limits are in harness.suite.limits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from harness.errors import SuiteError
from harness.suite.limits import CELLS, FILE_BYTES, YAML_NODES

BOM = "\ufeff"


def read_text(path: Path, what: str, where: str | None = None, line: int | None = None) -> str:
    """The text of a file the suite names; ``where``/``line`` is the place that names it
    (reported for a missing file)."""
    if path.is_dir():
        raise SuiteError(str(path), f"the {what} is a directory, not a file",
                         f"name a file (the {what} path is relative to the suite file)")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SuiteError(where or str(path), f"{what} file not found: {path}",
                         "check the path (relative to the suite file)", line=line) from None
    except OSError as exc:
        raise SuiteError(str(path), f"the {what} cannot be read ({exc.strerror})",
                         "check the file's permissions") from None
    if size > FILE_BYTES.value():
        raise SuiteError(str(path), f"the {what} has {size} bytes, over the limit of "
                         f"{FILE_BYTES.value():g}", FILE_BYTES.fix())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(str(path), f"the {what} cannot be read ({exc.strerror})",
                         "check the file's permissions") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
        raise SuiteError(str(path), f"the {what} is not UTF-8 text (byte {data[exc.start]:#x} "
                         f"at offset {exc.start})", "save the file as UTF-8",
                         line=bad_line) from None
    if text.startswith(BOM):
        raise SuiteError(str(path), f"the {what} starts with a byte-order mark (BOM)",
                         "save it as UTF-8 without BOM (the BOM would become part of the "
                         "first field name)", line=1)
    return text


def check_yaml_tree(node: yaml.Node | None, path: Path) -> None:
    """Duplicate mapping keys (the later one would silently win) and alias expansion."""
    if node is None:
        return
    sizes: dict[int, int] = {}
    cap = YAML_NODES.value()

    def size(n: yaml.Node) -> int:
        # Expanded size, computed once per node: an alias is the same node object, so a
        # bomb of nested aliases is measured without being expanded.
        known = sizes.get(id(n))
        if known is not None:
            return known
        sizes[id(n)] = 1  # a recursive alias counts once instead of looping
        total = 1
        if isinstance(n, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key, value in n.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in seen:
                        raise SuiteError(
                            str(path),
                            f"duplicate key {key.value!r} (first at line {seen[key.value]}); "
                            "YAML keeps only the last one",
                            "remove or rename one of them", line=key.start_mark.line + 1)
                    seen[key.value] = key.start_mark.line + 1
                total += size(key) + size(value)
        elif isinstance(n, yaml.SequenceNode):
            for item in n.value:
                total += size(item)
        if total > cap:
            raise SuiteError(
                str(path), f"the YAML expands to more than {cap:g} values (aliases "
                "repeated inside aliases?)", YAML_NODES.fix(), line=n.start_mark.line + 1)
        sizes[id(n)] = total
        return total

    size(node)


def bad_numbers(data: Any, loc: tuple[str | int, ...] = ()) -> Iterable[tuple[tuple[Any, ...],
                                                                           float]]:
    """(location, value) of every NaN or infinite float in loaded YAML data."""
    if isinstance(data, float):
        if not math.isfinite(data):
            yield loc, data
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from bad_numbers(value, (*loc, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from bad_numbers(value, (*loc, i))


def temperature_problem(temperatures: list[float | None]) -> tuple[str, int] | None:
    """(problem, index) for a temperature out of range or one whose cell id repeats."""
    seen: dict[str, float | None] = {}
    for i, t in enumerate(temperatures):
        if t is not None and not 0 <= t <= 2:
            return f"temperature {t} is outside 0..2", i
        label = "tdefault" if t is None else f"t{t:g}"
        if label in seen:
            return (f"temperature {t} repeats {seen[label]} (both are cell id {label}, so "
                    "one cell would be dropped)", i)
        seen[label] = t
    return None


def ragged_row(rec: Mapping[Any, Any], header: list[str]) -> str | None:
    """Why a csv.DictReader row does not match the header, else None."""
    if None in rec:
        return f"row has {len(header) + len(rec[None])} fields, the header has {len(header)}"
    missing = [k for k, v in rec.items() if v is None]
    if missing:
        return (f"row has {len(header) - len(missing)} fields, the header has {len(header)} "
                f"(missing: {', '.join(missing)})")
    return None


def remote_ref(schema: Any) -> str | None:
    """The first ``$ref`` in a JSON schema that points off this machine."""
    if isinstance(schema, Mapping):
        for key in ("$ref", "$dynamicRef"):
            value = schema.get(key)
            if isinstance(value, str) and _remote(value):
                return value
        for value in schema.values():
            found = remote_ref(value)
            if found:
                return found
    elif isinstance(schema, list):
        for value in schema:
            found = remote_ref(value)
            if found:
                return found
    return None


def _remote(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme not in ("", "file", "urn") or bool(parts.netloc)


REMOTE_FIX = ("copy the referenced schema into a local file next to this one and refer to it "
              "by relative path; remote references are never fetched")


def run_wide_problem(suite: Any, where: str, names: dict[str, str], cells: int) -> str | None:
    """Checks across a run's suites (``names``: suite name -> file, filled in here): a name
    used by two files (their records and baselines would mix), too many cells."""
    first = names.setdefault(suite.name, where)
    if first != where:
        return SuiteError(where, f"suite name {suite.name!r} is also used by {first}",
                          "give each suite a distinct 'name:'").render()
    if cells > CELLS.value():
        return SuiteError(where, f"the suite expands to {cells} cells, over the limit of "
                          f"{CELLS.value():g}", CELLS.fix()).render()
    return None


def render_problem(cases: Iterable[Any], templates: Iterable[tuple[str, str]]) -> SuiteError | None:
    """The first case whose prompt does not render (a sandbox violation, a size bomb, a
    recursive macro, a prompt over the size limit), checked at load so it is one collection
    error naming the case's line instead of a traceback in every cell. Plain ``{{ name }}``
    templates render in about a microsecond, so the check costs milliseconds a suite."""
    from harness.suite import templating

    sources = [src for _, src in templates if "{" in src]
    for case in cases:
        for src in sources:
            try:
                templating.render(src, case.vars)
            except templating.TemplateProblem as exc:
                return SuiteError(case.source, f"case {case.id!r}: {exc}",
                                  "fix the template or the case's vars")
    return None
