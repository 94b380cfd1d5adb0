"""tool-call scorer: the model called a tool with the expected name and arguments.

Works on ``Completion.tool_calls`` (normalised ToolCall objects from every provider:
OpenAI/Groq/Mistral function calls with JSON-string arguments, Anthropic tool_use blocks
with object input, all parsed into ``arguments``). Spec::

    {type: tool-call, name: get_weather,
     arguments: {city: Paris},          # optional: these keys must have these values
     schema: {...},                     # optional: JSON Schema the arguments must follow
     index: 0}                          # optional: only the n-th call counts

Passes when some call (or the one at ``index``) to ``name`` meets every condition.
Expected argument values may use the case's vars; nested mappings match as subsets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import check_all, need_mapping, need_str, render
from harness.scoring.jsonparse import JSONParseError, parse_json
from harness.types import Score, ToolCall


def _validate(spec: Mapping[str, Any]) -> str | None:
    import jsonschema  # ~35 ms: imported when a schema is checked

    problem = check_all(
        need_str("name", "get_weather"), need_mapping("arguments"), need_mapping("schema")
    )(spec)
    if problem:
        return problem
    index = spec.get("index")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        return f"tool-call: 'index' must be an integer, got {index!r}"
    if "schema" in spec:
        try:
            jsonschema.Draft202012Validator.check_schema(spec["schema"])
        except jsonschema.SchemaError as exc:
            return f"tool-call: invalid arguments schema at {exc.json_path}: {exc.message}"
    return None


def _arguments(call: ToolCall | Mapping[str, Any]) -> tuple[str, dict[str, Any] | None, str]:
    if isinstance(call, Mapping):  # a Result.tool_calls entry
        name, args, raw = call.get("name", ""), call.get("arguments"), call.get("raw_arguments", "")
    else:
        name, args, raw = call.name, call.arguments, call.raw_arguments
    if args is None and raw:
        try:
            parsed = parse_json(raw)
        except JSONParseError:
            parsed = None
        args = parsed if isinstance(parsed, dict) else None
    return str(name), args, str(raw or "")


def _same(a: Any, b: Any) -> bool:
    """Equal, with booleans never equal to numbers (JSON keeps them apart; Python not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _subset_problems(expected: Any, got: Any, path: str) -> list[str]:
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return [f"{path}: expected an object, got {got!r}"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in got:
                out.append(f"{path}.{key}: missing")
            else:
                out.extend(_subset_problems(value, got[key], f"{path}.{key}"))
        return out
    if _same(expected, got):
        return []
    return [f"{path}: expected {expected!r}, got {got!r}"]


def _check_call(
    args: dict[str, Any] | None, raw: str, ctx: ScoreContext, spec: Mapping[str, Any]
) -> list[str]:
    import jsonschema  # ~35 ms: imported when a schema is checked

    if args is None:
        return [f"arguments are not a JSON object: {raw[:80]!r}"]
    problems: list[str] = []
    if "arguments" in spec:
        expected = {k: render(v, ctx) for k, v in spec["arguments"].items()}
        problems += _subset_problems(expected, args, "$")
    if "schema" in spec:
        errors = sorted(
            jsonschema.Draft202012Validator(spec["schema"]).iter_errors(args),
            key=lambda e: list(map(str, e.absolute_path)),
        )
        problems += [f"{e.json_path}: {e.message}" for e in errors]
    return problems


@scorer("tool-call", validate=_validate, keys=("name", "arguments", "schema", "index"))
def tool_call(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    want = render(spec["name"], ctx)
    calls = list(ctx.completion.tool_calls) if ctx.completion is not None else []
    if not calls:
        return Score("tool-call", False, None, f"no tool call (expected {want})")
    index = spec.get("index")
    if index is not None:
        if not -len(calls) <= index < len(calls):
            return Score("tool-call", False, None,
                         f"no tool call at index {index}: {len(calls)} call(s)")
        calls = [calls[index]]
    parsed = [_arguments(c) for c in calls]
    names = [name for name, _, _ in parsed]
    matching = [(args, raw) for name, args, raw in parsed if name == want]
    if not matching:
        return Score("tool-call", False, names, f"no call to {want}; called {names}")
    failures: list[str] = []
    for args, raw in matching:
        problems = _check_call(args, raw, ctx, spec)
        if not problems:
            shown = json.dumps(args, sort_keys=True, default=str)[:120]
            return Score("tool-call", True, names, f"called {want} with {shown}")
        failures.append("; ".join(problems))
    return Score("tool-call", False, names, f"{want} called with wrong arguments: "
                 + " | ".join(failures[:3]))
