"""Inline checks: expression, json-path, length.

::

    {type: expression, value: "len(json.items) >= 3 and json.items[0].price > 0"}
    {type: json-path, path: "$.countries[0]", equals: France}   # or a JSON Pointer "/a/0"
    {type: length, min: 20, max: 400, unit: words}              # unit: chars (default)

``expression`` is suite-author code evaluated by harness.scoring.expr (names ``output``,
``json``, ``vars``, ``tool_calls``, ``latency_ms``, ``cost_usd``); it returns what a
``python`` scorer's function may return (bool, number against ``threshold``, mapping).

``json-path`` parses the answer as JSON and finds the value at ``path``: ``$`` then
``.key``, ``['key']``, ``[n]`` (negative counts from the end) or ``[*]`` / ``.*`` (every
item: the matches form a list). Checks, all of which must hold (none: the path must exist):
``equals`` (JSON equality, ``true != 1``), ``contains`` (substring of a string, item of a
list, key of an object), ``matches`` (regex search), ``kind`` (string, number, integer,
boolean, array, object, null; ``kind`` because ``type`` names the
assertion), ``gt`` / ``gte`` / ``lt`` / ``lte`` (numbers). String
values may use the case's vars.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from harness.scoring import expr
from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import is_number, need_number, render
from harness.scoring.jsonparse import JSONParseError, parse_json
from harness.scoring.pyfunc import DEFAULT_THRESHOLD, interpret
from harness.types import Score

# -- expression ---------------------------------------------------------------------------


def _validate_expression(spec: Mapping[str, Any]) -> str | None:
    problem = expr.check(spec.get("value"))
    if problem:
        return f"expression: 'value' {problem}"
    return need_number("threshold", required=False)(spec)


@scorer("expression", validate=_validate_expression, keys=("value", "threshold"))
def expression(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    source = str(spec["value"])
    got = expr.evaluate(source, expr.names_for(ctx))
    label = source if len(source) <= 80 else source[:77] + "..."
    threshold = float(spec.get("threshold", DEFAULT_THRESHOLD))
    return interpret("expression", f"`{label}`", expr.unwrap(got), threshold)


# -- json-path ----------------------------------------------------------------------------

_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_$][\w$-]*)|\.(?P<star>\*)|\[(?P<index>-?\d+)\]|\[\*\]"""
    r"""|\[(?P<q>['"])(?P<key>.*?)(?P=q)\]"""
)
_WILD = object()
_COMPARE = {"gt": (lambda a, b: a > b, ">"), "gte": (lambda a, b: a >= b, ">="),
            "lt": (lambda a, b: a < b, "<"), "lte": (lambda a, b: a <= b, "<=")}
_CHECKS = ("equals", "contains", "matches", "type", *_COMPARE)
_TYPES = {
    "string": lambda v: isinstance(v, str),
    "number": is_number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def parse_path(path: str) -> list[Any]:
    """``$.a[0]['b c'][*]`` or the JSON Pointer ``/a/0/b c`` -> steps (str, int, _WILD)."""
    if path.startswith("/") or path == "":
        steps: list[Any] = []
        for raw in path.split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            steps.append(int(token) if token.lstrip("-").isdigit() else token)
        return steps
    if not path.startswith("$"):
        raise ValueError(f"path {path!r} must start with '$' (JSONPath) or '/' (JSON Pointer)")
    steps, pos = [], 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"path {path!r}: cannot read {path[pos:]!r}")
        if m.group("name") is not None:
            steps.append(m.group("name"))
        elif m.group("index") is not None:
            steps.append(int(m.group("index")))
        elif m.group("key") is not None:
            steps.append(m.group("key"))
        else:
            steps.append(_WILD)
        pos = m.end()
    return steps


def find(data: Any, steps: list[Any]) -> tuple[bool, Any]:
    """(found, value); after a wildcard the value is the list of every match."""
    for i, step in enumerate(steps):
        if step is _WILD:
            items = list(data.values()) if isinstance(data, dict) else data
            if not isinstance(items, list):
                return False, None
            found = [find(item, steps[i + 1:]) for item in items]
            return True, [v for ok, v in found if ok]
        if isinstance(data, dict) and isinstance(step, str | int) and str(step) in data:
            data = data[str(step)]
        elif isinstance(data, list) and isinstance(step, int) and -len(data) <= step < len(data):
            data = data[step]
        else:
            return False, None
    return True, data


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 3 == 3.0, but true != 1 and "3" != 3."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _validate_json_path(spec: Mapping[str, Any]) -> str | None:
    path = spec.get("path")
    if not isinstance(path, str):
        return "json-path: needs 'path', e.g. path: $.items[0].name (or a JSON Pointer /items/0)"
    try:
        parse_path(path)
    except ValueError as exc:
        return f"json-path: {exc}"
    if "matches" in spec:
        try:
            re.compile(str(spec["matches"]))
        except re.error as exc:
            return f"json-path: invalid 'matches' pattern {spec['matches']!r}: {exc}"
    wanted = spec.get("kind")
    if wanted is not None and wanted not in _TYPES:
        return f"json-path: 'kind' must be one of {', '.join(_TYPES)}, got {wanted!r}"
    for key in _COMPARE:
        if key in spec and not is_number(spec[key]):
            return f"json-path: '{key}' must be a number, got {spec[key]!r}"
    return None


def _problems(value: Any, spec: Mapping[str, Any], ctx: ScoreContext) -> list[str]:
    out: list[str] = []
    if "equals" in spec:
        want = render(spec["equals"], ctx)
        if not json_equal(value, want):
            out.append(f"expected {want!r}")
    if "contains" in spec:
        want = render(spec["contains"], ctx)
        if isinstance(value, str):
            ok = isinstance(want, str) and want in value
        elif isinstance(value, list):
            ok = any(json_equal(item, want) for item in value)
        elif isinstance(value, dict):
            ok = want in value
        else:
            ok = False
        if not ok:
            out.append(f"does not contain {want!r}")
    if "matches" in spec:
        pattern = str(render(spec["matches"], ctx))
        if not isinstance(value, str) or re.search(pattern, value) is None:
            out.append(f"does not match /{pattern}/")
    if "kind" in spec and not _TYPES[spec["kind"]](value):
        out.append(f"is not of type {spec['kind']}")
    for key, (op, sign) in _COMPARE.items():
        if key in spec and not (is_number(value) and op(value, spec[key])):
            out.append(f"is not {sign} {spec[key]!r}")
    return out


@scorer(
    "json-path",
    validate=_validate_json_path,
    keys=("path", "equals", "contains", "matches", "kind", *_COMPARE),
    text=True,
)
def json_path(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    path = str(spec["path"])
    try:
        data = parse_json(ctx.output)
    except JSONParseError as exc:
        return Score("json-path", False, None, str(exc))
    found, value = find(data, parse_path(path))
    if not found:
        return Score("json-path", False, None, f"nothing at {path}")
    problems = _problems(value, spec, ctx)
    shown = json.dumps(value, default=str)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    if problems:
        return Score("json-path", False, value, f"{path} = {shown}: " + "; ".join(problems))
    return Score("json-path", True, value, f"{path} = {shown}")


# -- length -------------------------------------------------------------------------------


def _validate_length(spec: Mapping[str, Any]) -> str | None:
    if "min" not in spec and "max" not in spec:
        return "length: needs 'min' and/or 'max', e.g. {type: length, max: 400, unit: words}"
    for key in ("min", "max"):
        v = spec.get(key)
        if key in spec and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            return f"length: '{key}' must be a whole number >= 0, got {v!r}"
    if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
        return f"length: 'min' ({spec['min']}) is above 'max' ({spec['max']})"
    unit = spec.get("unit", "chars")
    if unit not in ("chars", "words"):
        return f"length: 'unit' must be chars or words, got {unit!r}"
    return None


@scorer("length", validate=_validate_length, keys=("min", "max", "unit"), text=True)
def length(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """Length of the stripped output in characters (default) or words (whitespace-split)."""
    unit = spec.get("unit", "chars")
    text = ctx.output.strip()
    n = len(text.split()) if unit == "words" else len(text)
    low, high = spec.get("min"), spec.get("max")
    ok = (low is None or n >= low) and (high is None or n <= high)
    bounds = " and ".join(
        part for part in (f">= {low}" if low is not None else "",
                          f"<= {high}" if high is not None else "") if part
    )
    return Score("length", ok, n, f"{n} {unit}" + ("" if ok else f", expected {bounds}"))
