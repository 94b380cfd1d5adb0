"""Prompt rendering: a jinja2 SandboxedEnvironment where an undefined variable is an error.

Suites are data written by users and rendered with dataset values; the sandbox keeps a
template from reaching into Python objects, StrictUndefined turns a typo into an error
instead of an empty string in the prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

_ENV = SandboxedEnvironment(
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


def render(source: str, values: Mapping[str, Any]) -> str:
    if "{" not in source:
        return source  # the common no-template case costs nothing
    try:
        return _compile(source).render(values)
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"template variable missing: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"template error: {exc}") from None
