"""Inline Python expressions in suites: the ``expression`` assertion and ``transform:``.

An expression is suite-author code, like a ``python`` scorer's function: it runs with the
rights of whoever runs the suite. It is evaluated with a restricted namespace (a short list
of builtins, no ``import``, no names or attributes starting with ``_``), which keeps honest
mistakes clear and stops the usual escapes through dunder attributes; it is not a sandbox
for untrusted suites. All evaluation goes through :func:`evaluate`, the one place a time
limit or other guard wraps.

Names an expression sees (:func:`names_for`):

- ``output``: the answer text (after any transform that governs it);
- ``json``: the answer parsed as JSON (harness.scoring.jsonparse), or None when it is not JSON;
- ``vars``: the case's vars; ``tool_calls``: the answer's tool calls as
  ``{name, arguments, raw_arguments, id}``;
- ``latency_ms``, ``cost_usd``: the call's figures (None when unknown);
- ``re``: the regular-expression module.

Mappings allow attribute access (``json.countries`` is ``json["countries"]``), as in the
JavaScript assertions of promptfoo configs.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Mapping
from functools import lru_cache
from types import CodeType
from typing import Any

from harness.scoring.common import bounded
from harness.scoring.jsonparse import JSONParseError, parse_json

SAFE_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int",
        "isinstance", "len", "list", "map", "max", "min", "range", "reversed", "round",
        "set", "sorted", "str", "sum", "tuple", "zip",
    )
}
SAFE_BUILTINS.update({"True": True, "False": False, "None": None})


class ExpressionProblem(ValueError):
    """An expression that does not compile or uses what the namespace forbids."""


class AttrDict(dict[str, Any]):
    """A dict whose keys are also attributes (``json.a.b``); missing ones raise KeyError."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no key {name!r} (keys: {sorted(self)})") from None


def wrap(value: Any) -> Any:
    """JSON data with every mapping an AttrDict."""
    if isinstance(value, Mapping):
        return AttrDict({str(k): wrap(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [wrap(v) for v in value]
    return value


def unwrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unwrap(v) for v in value]
    return value


@lru_cache(maxsize=512)
def compile_expression(source: str) -> CodeType:
    """Compile one expression, refusing names and attributes that start with ``_``."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionProblem(f"not a Python expression: {exc.msg} in {source!r}") from None
    for node in ast.walk(tree):
        # str.format can reach attributes through its field syntax ("{0.__class__}").
        if isinstance(node, ast.Attribute) and node.attr in ("format", "format_map"):
            raise ExpressionProblem(f"str.{node.attr} is not allowed; use an f-string")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionProblem(f"attribute {node.attr!r} is not allowed in {source!r}")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionProblem(f"name {node.id!r} is not allowed in {source!r}")
    return compile(tree, "<suite expression>", "eval")


def free_names(source: str) -> set[str]:
    """The names an expression reads (for checks such as derived metrics' inputs)."""
    tree = ast.parse(source.strip(), mode="eval")
    bound = {n.id for n in ast.walk(tree)
             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return {n.id for n in ast.walk(tree)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound


def check(source: Any) -> str | None:
    """A problem with an expression (for collection errors), or None."""
    if not isinstance(source, str) or not source.strip():
        return f"needs a Python expression as a string, got {source!r}"
    try:
        compile_expression(source)
    except ExpressionProblem as exc:
        return str(exc)
    return None


def evaluate(source: str, names: Mapping[str, Any]) -> Any:
    """Evaluate a suite expression with ``names`` and the restricted builtins.

    The single evaluation point: guards such as a time limit wrap this function."""
    code = compile_expression(source)
    label = f"expression `{source if len(source) <= 60 else source[:57] + '...'}`"
    return bounded(label, eval, code, {"__builtins__": SAFE_BUILTINS, "re": re}, dict(names))


def parsed_json(text: str) -> Any:
    try:
        return parse_json(text)
    except JSONParseError:
        return None


def tool_call_dicts(completion: Any) -> list[dict[str, Any]]:
    calls = getattr(completion, "tool_calls", ()) or ()
    return [
        {"name": c.name, "arguments": c.arguments, "raw_arguments": c.raw_arguments, "id": c.id}
        for c in calls
    ]


def names_for(ctx: Any) -> dict[str, Any]:
    """The namespace of an expression or transform scoring ``ctx`` (a ScoreContext)."""
    return {
        "output": ctx.output,
        "json": wrap(parsed_json(ctx.output)),
        "vars": wrap(dict(ctx.vars)),
        "tool_calls": wrap(tool_call_dicts(ctx.completion)),
        "latency_ms": ctx.latency_ms,
        "cost_usd": ctx.cost_usd,
    }
