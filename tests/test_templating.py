"""Prompt rendering: the plain-substitution fast path renders exactly what jinja renders."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from harness.suite import templating
from harness.suite.templating import TemplateProblem, render

VALUES: dict[str, Any] = {
    "text": "ACME Corp invoice #42",
    "n": 42,
    "price": 99.5,
    "flag": True,
    "nothing": None,
    "items": ["a", "b"],
    "data": {"k": "v"},
    "html": "<b>x</b> {{ not a template }}",
    "multi": "line one\nline two\n",
}

TEMPLATES = [
    "Invoice text: {{ text }}",
    "{{text}}|{{ n }}|{{  price  }}|{{ flag }}|{{ nothing }}",
    "{{ items }} and {{ data }}",
    "raw {{ html }} stays raw",
    "{{ multi }}",
    "ends with a newline {{ n }}\n",
    "no template at all",
    "a { brace } and }} closing and { { spaced",
    "{{ text | upper }}",  # a filter: jinja
    "{% if flag %}yes{% endif %} {{ n }}",  # a block: jinja
    "{{ data.k }}",  # attribute access: jinja
    "{# comment #}{{ n }}",  # a comment: jinja
    "{{ none }} {{ true }}",  # jinja literals
]


@pytest.mark.parametrize("source", TEMPLATES)
def test_render_matches_jinja(source: str) -> None:
    expected = (
        jinja2.sandbox.SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
        )
        .from_string(source)
        .render(VALUES)
    )
    assert render(source, VALUES) == expected


def test_only_plain_substitutions_take_the_fast_path() -> None:
    assert templating._substitutions("Hi {{ name }}!") == (("Hi ", "name"), ("!", ""))
    for source in ("{{ a | b }}", "{% x %}", "{{ a.b }}", "{{ none }}", "{# c #}"):
        assert templating._substitutions(source) is None


def test_a_missing_variable_is_an_error_on_either_path() -> None:
    with pytest.raises(TemplateProblem, match="missing"):
        render("Hello {{ who }}", {})
    with pytest.raises(TemplateProblem, match="missing"):
        render("Hello {{ who | upper }}", {})
