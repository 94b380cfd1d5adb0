"""Suite inputs beyond plain values: file vars, CSV ``__`` columns, tools in either form.

Used by the loader's stages (harness.suite.cases, .schemas, .prompts); each function returns
plain data or raises ``InputProblem`` (the loader turns it into a SuiteError naming the file,
line and fix).

- A var value ``file://path`` or ``file:path`` (relative to the file that holds it) is the
  file's content: parsed for ``.json`` / ``.yaml`` / ``.yml``, text otherwise. A path with
  ``*``, ``?`` or ``[`` is a glob: the case becomes one case per matching file (sorted), its
  id suffixed with the file's stem.
- A CSV dataset follows promptfoo's conventions: ``__expected`` (and ``__expected1``,
  ``__expected2``, ...) holds one assertion written ``type:value`` (``contains: ACME``,
  ``not-icontains:as an AI``, ``similar(0.8):text``, ``llm-rubric:polite``; ``javascript:``
  is refused with the expression form to use); a plain text is ``equals``. ``__description``,
  ``__threshold`` and ``__metadata:<key>`` fill the case's description, threshold and
  metadata. Any other ``__`` column is an error.
- A tool is OpenAI's ``{type: function, function: {name, description, parameters}}`` or
  Anthropic's ``{name, description, input_schema}``; ``tools:`` may also name a JSON or YAML
  file holding the list.
"""

from __future__ import annotations

import glob as globlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class InputProblem(ValueError):
    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


# -- file vars -----------------------------------------------------------------------------


def file_ref(value: Any) -> str | None:
    """The path of a ``file://x`` / ``file:x`` var value, else None."""
    if not isinstance(value, str):
        return None
    for prefix in ("file://", "file:"):
        if value.startswith(prefix):
            rest = value[len(prefix):].strip()
            return rest or None
    return None


def read_data_file(path: Path) -> Any:
    """A file's content: JSON or YAML parsed (``yaml.safe_load``: data, never code), else
    its text."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputProblem(f"file not found: {path}",
                           "file: paths are relative to the file that names them") from None
    except UnicodeDecodeError:
        raise InputProblem(f"{path} is not UTF-8 text", "give a text, JSON or YAML file") from None
    except IsADirectoryError:
        raise InputProblem(f"{path} is a directory, not a file",
                           "name a file (file: paths are relative to the file that names them)"
                           ) from None
    except OSError as exc:
        raise InputProblem(f"{path} cannot be read ({exc.strerror})",
                           "check the file's permissions") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputProblem(f"{path} does not parse: {exc}", "fix the file") from None
    return text


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def expand_file_vars(
    case_id: str, variables: Mapping[str, Any], base: Path, reads: list[Path]
) -> list[tuple[str, dict[str, Any]]]:
    """(case id, vars) pairs with file values read; a glob value gives one pair per file.
    Every file read is appended to ``reads`` (a cached parse is valid while they are)."""
    globbed = [(k, file_ref(v)) for k, v in variables.items()
               if file_ref(v) is not None and _is_glob(str(file_ref(v)))]
    if len(globbed) > 1:
        raise InputProblem(
            f"vars {[k for k, _ in globbed]} are all globs",
            "expand one var per case with a glob; name the other files one by one",
        )
    out: dict[str, Any] = {}
    for key, value in variables.items():
        ref = file_ref(value)
        if ref is None or _is_glob(ref):
            out[key] = value
            continue
        path = base / ref
        out[key] = read_data_file(path)
        reads.append(path)
    if not globbed:
        return [(case_id, out)]
    key, pattern = globbed[0]
    assert pattern is not None
    matches = sorted(Path(p) for p in globlib.glob(str(base / pattern), recursive=True))
    matches = [p for p in matches if p.is_file()]
    if not matches:
        raise InputProblem(f"var {key!r}: no file matches {pattern!r}",
                           "glob paths are relative to the file that names them")
    cases = []
    for path in matches:
        reads.append(path)
        cases.append((f"{case_id}-{path.stem}", {**out, key: read_data_file(path)}))
    return cases


# -- CSV conventions -----------------------------------------------------------------------

#: Assertion types promptfoo names differently, and those it has that we refuse with a fix.
_RENAMED = {"grader": "llm-rubric", "python": "expression"}
_REFUSED = {
    "javascript": "write it as expression:<Python expression> (names: output, json, vars)",
    "fn": "write it as expression:<Python expression> (names: output, json, vars)",
    "eval": "write it as expression:<Python expression> (names: output, json, vars)",
}
_WITH_THRESHOLD = re.compile(r"^(?P<type>[a-z-]+)\((?P<threshold>[0-9.]+)\)$")
_SCHEMA_TYPES = ("is-json", "contains-json")


def expected_assertion(text: str, known: set[str]) -> dict[str, Any]:
    """One ``__expected`` cell as an assertion mapping (promptfoo's ``type:value`` forms)."""
    text = text.strip()
    head, sep, rest = text.partition(":")
    head = head.strip()
    threshold: float | None = None
    m = _WITH_THRESHOLD.match(head)
    if m:
        head, threshold = m.group("type"), float(m.group("threshold"))
    negate = head.startswith("not-")
    base = head[4:] if negate else head
    if base in _REFUSED and sep:
        raise InputProblem(f"__expected {base}: assertions are JavaScript", _REFUSED[base])
    base = _RENAMED.get(base, base)
    if base == "expression" and re.fullmatch(r"[\w./-]+(\.py)?:[\w.]+", rest.strip()):
        base = "python"  # python:file.py:fn names a function, not an expression
    if base not in known:
        if sep and re.fullmatch(r"[a-z][a-z-]*", head) and " " not in head:
            raise InputProblem(
                f"__expected: unknown assertion type {head!r} in {text!r}",
                "use a type from docs/scoring.md, or write the expected text alone for equals",
            )
        return {"type": "equals", "value": text}
    spec: dict[str, Any] = {"type": f"not-{base}" if negate else base}
    value = rest.strip()
    if value:
        if base in ("contains-all", "contains-any", "icontains-all", "icontains-any"):
            spec["value"] = [v.strip() for v in value.split(",") if v.strip()]
        elif base in _SCHEMA_TYPES:
            spec["value"] = json.loads(value) if value.startswith("{") else value
        else:
            spec["value"] = value
    if threshold is not None:
        spec["threshold"] = threshold
    return spec


def csv_row(rec: Mapping[str | None, str | None], known: set[str]) -> dict[str, Any]:
    """One CSV record as a case mapping (id, vars, assert, description, threshold, metadata)."""
    row: dict[str, Any] = {"vars": {}}
    asserts: list[dict[str, Any]] = []
    metadata: dict[str, str] = {}
    for key, value in rec.items():
        if key is None:
            raise InputProblem("the row has more cells than the header has columns",
                               "quote values that contain commas")
        value = value or ""
        if key == "id":
            row["id"] = value
        elif key.startswith("assert:"):
            if value:
                asserts.append({"type": key[len("assert:"):], "value": value})
        elif re.fullmatch(r"__expected\d*", key):
            if value.strip():
                asserts.append(expected_assertion(value, known))
        elif key == "__description":
            if value:
                row["description"] = value
        elif key == "__threshold":
            if value.strip():
                try:
                    row["threshold"] = float(value)
                except ValueError:
                    raise InputProblem(f"__threshold {value!r} is not a number",
                                       "write a number from 0 to 1") from None
        elif key.startswith("__metadata:"):
            if value:
                metadata[key[len("__metadata:"):]] = value
        elif key.startswith("__"):
            raise InputProblem(
                f"unknown column {key!r}",
                "columns starting with __ are __expected, __expected<N>, __description, "
                "__threshold and __metadata:<key>; rename it to use it as a var",
            )
        else:
            row["vars"][key] = value
    row["assert"] = asserts
    if metadata:
        row["metadata"] = metadata
    return row


# -- tools ---------------------------------------------------------------------------------


def tool_fields(raw: Any) -> tuple[Any, str, Any] | None:
    """(name, description, parameters) of a tool in OpenAI or Anthropic form, else None."""
    if not isinstance(raw, Mapping):
        return None
    if raw.get("type") == "function" and isinstance(raw.get("function"), Mapping):
        fn = raw["function"]
        extra = set(fn) - {"name", "description", "parameters"}
        if extra or set(raw) - {"type", "function"}:
            return None
        return (fn.get("name"), str(fn.get("description", "")), fn.get("parameters"))
    if "input_schema" in raw or ("name" in raw and "type" not in raw):
        if set(raw) - {"name", "description", "input_schema"}:
            return None
        return (raw.get("name"), str(raw.get("description", "")), raw.get("input_schema"))
    return None


def tools_file(path: Path) -> list[Any]:
    data = read_data_file(path)
    if not isinstance(data, list):
        raise InputProblem(f"{path} must hold a list of tools", "write a JSON or YAML list")
    return data
