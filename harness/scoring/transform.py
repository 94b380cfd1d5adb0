"""``transform:``: what an assertion checks instead of the raw answer.

A transform is a Python expression (harness.scoring.expr: ``json.countries``,
``output.lower()``, ``tool_calls[0].arguments.city``) or a function named
``module:function`` / ``file.py:function`` called as ``fn(output, context)`` with the same
names as a mapping. It may be given at suite level, on a case, and on an assertion; they
apply in that order, each to the result of the one before (harness.suite.model folds the suite
and case ones into each assertion as a list). A result that is not a string becomes its
JSON text, so ``contains``, ``equals`` and the JSON assertions see it as data.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from harness.scoring.base import ScoreContext
from harness.scoring.common import bounded, resolve_callable
from harness.scoring.expr import AttrDict, check, evaluate, names_for, unwrap

_DOTTED = re.compile(r"^[A-Za-z_][\w.]*(?:/[\w./-]+)?(?:\.py)?:[A-Za-z_][\w.]*$")


def is_function(source: str) -> bool:
    return bool(_DOTTED.match(source.strip()))


def as_list(raw: Any) -> list[Any]:
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list | tuple) else [raw]


def check_transform(raw: Any) -> str | None:
    """A problem with a ``transform:`` value (a string, or a list of them), or None."""
    items = as_list(raw)
    if not items:
        return "'transform' must be a Python expression or 'module:function', got nothing"
    for item in items:
        if isinstance(item, str) and is_function(item):
            continue
        problem = check(item)
        if problem:
            return f"'transform' {problem}"
    return None


def apply_one(ctx: ScoreContext, source: str) -> ScoreContext:
    names = names_for(ctx)
    if is_function(source):
        fn = resolve_callable(source.strip(), ctx.base_dir)
        got = bounded(f"transform {source.strip()}", fn, ctx.output, AttrDict(names))
    else:
        got = evaluate(source, names)
    text = got if isinstance(got, str) else json.dumps(unwrap(got), default=str)
    return dataclasses.replace(ctx, output=text, transformed=True)


def apply(ctx: ScoreContext, spec: Mapping[str, Any]) -> ScoreContext:
    """The context an assertion scores: every transform governing it applied in order."""
    for source in as_list(spec.get("transform")):
        ctx = apply_one(ctx, str(source))
    return ctx
