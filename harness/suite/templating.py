"""Prompt rendering: a jinja2 SandboxedEnvironment where an undefined variable is an error.

Suites are data written by users and rendered with dataset values; the sandbox keeps a
template from reaching into Python objects, StrictUndefined turns a typo into an error
instead of an empty string in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox, plus a size check on ``*`` and ``**``: a template cannot build a
    string, list or number big enough to exhaust memory (harness.suite.limits.PROMPT_CHARS)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        from harness.suite.limits import PROMPT_CHARS

        cap = PROMPT_CHARS.value()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if sized and len(seq) * count > cap:
                    raise SecurityError(
                        f"'*' would make {len(seq) * count} items, over the limit of "
                        f"{cap:g} ({PROMPT_CHARS.env})"
                    )
        if operator == "**" and isinstance(right, int | float) and abs(right) > 1000:
            raise SecurityError(f"'**' with exponent {right} is over the limit of 1000")
        return super().call_binop(context, operator, left, right)


_ENV = _BoundedSandbox(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


class TemplateProblem(ValueError):
    """A template does not parse or needs a variable it was not given."""


@lru_cache(maxsize=1024)
def _compile(source: str) -> jinja2.Template:
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(
            f"template syntax error: {exc.message} (template line {exc.lineno})"
        ) from None


def check_syntax(source: str) -> None:
    _compile(source)


@lru_cache(maxsize=1024)
def variables(source: str) -> frozenset[str]:
    """Top-level variables a template reads."""
    try:
        return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(
            f"template syntax error: {exc.message} (template line {exc.lineno})"
        ) from None


#: ``{{ name }}`` and nothing else: the form nearly every prompt uses.
_NAME_ONLY = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: Names jinja reads as literals, not variables.
_JINJA_LITERALS = frozenset({"true", "false", "none", "True", "False", "None"})


@lru_cache(maxsize=1024)
def _substitutions(source: str) -> tuple[tuple[str, str], ...] | None:
    """The template as (literal text, variable name) pairs when it uses nothing but plain
    ``{{ name }}`` substitutions; None when it needs jinja (blocks, filters, attributes...)."""
    if "{%" in source or "{#" in source:
        return None
    parts: list[tuple[str, str]] = []
    pos = 0
    for match in _NAME_ONLY.finditer(source):
        if match.group(1) in _JINJA_LITERALS:
            return None
        parts.append((source[pos : match.start()], match.group(1)))
        pos = match.end()
    parts.append((source[pos:], ""))
    if any("{{" in literal for literal, _ in parts):
        return None
    return tuple(parts)


def render(source: str, values: Mapping[str, Any]) -> str:
    if "{" not in source:
        return source  # the common no-template case costs nothing
    # Plain substitutions skip jinja's per-render setup (a fifth of a cached run's per-cell
    # time); the result is what jinja renders: str() of each value, text kept as written.
    # A missing name falls through to jinja, which raises the usual error.
    parts = _substitutions(source)
    if parts is not None and all(name in values for _, name in parts if name):
        text = "".join(literal + (str(values[name]) if name else "") for literal, name in parts)
        return _bounded(text)
    try:
        text = _compile(source).render(values)
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"template variable missing: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateProblem(f"template blocked by the sandbox: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"template error: {exc}") from None
    except (RecursionError, MemoryError, OverflowError, ArithmeticError) as exc:
        # A recursive macro or a huge number: user data, so one line, never a traceback.
        raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None
    return _bounded(text)


def _bounded(text: str) -> str:
    from harness.suite.limits import PROMPT_CHARS

    if len(text) > PROMPT_CHARS.value():
        raise TemplateProblem(
            f"the rendered template has {len(text)} characters, over the limit of "
            f"{PROMPT_CHARS.value():g} ({PROMPT_CHARS.fix()})"
        )
    return text
