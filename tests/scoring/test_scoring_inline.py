"""expression, json-path, length, transforms, per-type keys and tool-call-only answers."""

from __future__ import annotations

from typing import Any

import pytest

from harness.scoring import ScoreContext, validate_assertion
from harness.scoring.base import run_one
from harness.scoring.expr import ExpressionProblem, compile_expression, evaluate
from harness.scoring.inline import find, parse_path
from harness.types import Completion, ToolCall

ANSWER = '{"countries": ["France", "Peru"], "n": 3, "ok": true, "who": {"name": "Ada"}}'


def score(output: str = ANSWER, completion: Completion | None = None, **spec: Any):
    ctx = ScoreContext(
        output=output, completion=completion or Completion(output), vars={"city": "Paris"},
        latency_ms=120.0, cost_usd=0.002,
    )
    assert validate_assertion(spec) is None, validate_assertion(spec)
    return run_one(ctx, spec)


@pytest.mark.parametrize(
    ("source", "passed"),
    [
        ("json.n == 3", True),
        ("json.n == 4", False),
        ("'Peru' in json.countries", True),
        ("json['who']['name'] == 'Ada'", True),
        ("len(output) > 10 and latency_ms < 500", True),
        ("cost_usd < 0.001", False),
        ("vars.city == 'Paris'", True),
        ("re.search(r'Ad[a-z]', output) is not None", True),
        ("0.7", True),  # a number is a score against threshold 0.5
        ("0.2", False),
        ("{'pass': False, 'score': 0.9, 'reason': 'custom'}", False),
    ],
)
def test_expression(source: str, passed: bool) -> None:
    s = score(type="expression", value=source)
    assert s.passed is passed, s.reason


def test_expression_threshold_and_reason() -> None:
    assert score(type="expression", value="0.7", threshold=0.8).passed is False
    s = score(type="expression", value="json.n > 5")
    assert "`json.n > 5` returned False" in s.reason


def test_expression_sees_tool_calls() -> None:
    c = Completion("", tool_calls=(ToolCall("get_weather", {"city": "Paris"}),))
    s = score("", c, type="expression", value="tool_calls[0].arguments.city == vars.city")
    assert s.passed, s.reason


def test_expression_error_is_a_failed_score_naming_it() -> None:
    s = score(type="expression", value="json.missing == 1")
    assert not s.passed and "missing" in s.reason and "AttributeError" in s.reason


@pytest.mark.parametrize(
    "source",
    ["().__class__", "__import__('os')", "'{0.__class__}'.format(1)", "x +", ""],
)
def test_expression_refuses_escapes_and_bad_syntax(source: str) -> None:
    problem = validate_assertion({"type": "expression", "value": source})
    assert problem and problem.startswith("expression: 'value'")


def test_unknown_builtin_is_a_name_error_at_run_time() -> None:
    # open() compiles (the AST check cannot know every name) but is not in the namespace.
    compile_expression("open('x')")
    with pytest.raises(NameError):
        evaluate("open('x')", {})
    with pytest.raises(ExpressionProblem):
        compile_expression("_x")


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$.a.b[0]", ["a", "b", 0]),
        ("$['a b'][-1]", ["a b", -1]),
        ("/a/0/b~1c", ["a", 0, "b/c"]),
        ("$", []),
    ],
)
def test_parse_path(path: str, steps: list[Any]) -> None:
    assert parse_path(path) == steps


def test_find_wildcard() -> None:
    data = {"items": [{"p": 1}, {"p": 2}, {"q": 3}]}
    assert find(data, parse_path("$.items[*].p")) == (True, [1, 2])
    assert find(data, parse_path("$.items[5]")) == (False, None)


@pytest.mark.parametrize(
    ("spec", "passed"),
    [
        ({"path": "$.n", "equals": 3}, True),
        ({"path": "$.n", "equals": 3.0}, True),
        ({"path": "$.ok", "equals": 1}, False),  # true != 1
        ({"path": "$.n", "equals": "3"}, False),
        ({"path": "/who/name", "equals": "Ada"}, True),
        ({"path": "$.countries", "contains": "Peru"}, True),
        ({"path": "$.countries", "contains": "Chile"}, False),
        ({"path": "$.who.name", "contains": "d"}, True),
        ({"path": "$.who", "contains": "name"}, True),
        ({"path": "$.who.name", "matches": "^A.a$"}, True),
        ({"path": "$.who.name", "matches": "^B"}, False),
        ({"path": "$.n", "kind": "integer"}, True),
        ({"path": "$.n", "kind": "string"}, False),
        ({"path": "$.countries", "kind": "array"}, True),
        ({"path": "$.n", "gt": 2, "lte": 3}, True),
        ({"path": "$.n", "lt": 3}, False),
        ({"path": "$.who.name", "gte": 1}, False),  # not a number
        ({"path": "$.missing"}, False),
        ({"path": "$.who"}, True),
        ({"path": "$.countries[0]", "equals": "{{ city }}"}, False),
    ],
)
def test_json_path(spec: dict[str, Any], passed: bool) -> None:
    s = score(type="json-path", **spec)
    assert s.passed is passed, s.reason
    if not passed:
        assert spec["path"] in s.reason or "nothing at" in s.reason


def test_json_path_on_text_fails_with_the_parse_error() -> None:
    s = score("not json", type="json-path", path="$.a", equals=1)
    assert not s.passed and "JSON" in s.reason


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"path": "a.b"}, "must start with '$'"),
        ({"path": "$.a", "kind": "text"}, "'kind' must be one of"),
        ({"path": "$.a", "gt": "3"}, "'gt' must be a number"),
        ({"path": "$.a", "matches": "("}, "invalid 'matches'"),
        ({"path": "$.a", "type_of": "x"}, "unknown key 'type_of'"),
        ({}, "needs 'path'"),
    ],
)
def test_json_path_refused(spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion({"type": "json-path", **spec})
    assert got and problem in got


@pytest.mark.parametrize(
    ("output", "spec", "passed", "value"),
    [
        ("  hello world  ", {"max": 11}, True, 11),
        ("hello world", {"max": 10}, False, 11),
        ("one two three", {"min": 3, "unit": "words"}, True, 3),
        ("one two", {"min": 3, "unit": "words"}, False, 2),
    ],
)
def test_length(output: str, spec: dict[str, Any], passed: bool, value: int) -> None:
    s = score(output, type="length", **spec)
    assert (s.passed, s.value) == (passed, value), s.reason


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({}, "needs 'min' and/or 'max'"),
        ({"min": 5, "max": 2}, "is above 'max'"),
        ({"max": 1.5}, "whole number"),
        ({"max": 3, "unit": "tokens"}, "'unit' must be chars or words"),
    ],
)
def test_length_refused(spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion({"type": "length", **spec})
    assert got and problem in got


# -- transforms -------------------------------------------------------------------------


def test_transform_changes_what_contains_checks() -> None:
    # The raw answer contains "purple" as a key; the transformed one does not.
    raw = '{"countries": ["red"], "purple": 1}'
    assert score(raw, type="contains", value="purple").passed
    s = score(raw, type="contains", value="purple", transform="json.countries")
    assert not s.passed


def test_transform_chain_applies_in_order() -> None:
    s = score(type="equals", value="ADA", transform=["json.who.name", "output.upper()"])
    assert s.passed, s.reason


def test_transform_result_that_is_data_feeds_json_assertions() -> None:
    s = score(type="equals", value=["France", "Peru"], transform="json.countries")
    assert s.passed, s.reason
    s = score(type="is-json", transform="json.who", value={"required": ["age"]})
    assert not s.passed and "'age' is a required property" in s.reason


def test_transform_function(tmp_path: Any) -> None:
    (tmp_path / "shape.py").write_text(
        "def first_country(output, context):\n    return context['json']['countries'][0]\n"
    )
    ctx = ScoreContext(output=ANSWER, base_dir=tmp_path)
    spec = {"type": "equals", "value": "France", "transform": "shape.py:first_country"}
    assert validate_assertion(spec) is None
    assert run_one(ctx, spec).passed


def test_transform_error_fails_the_assertion_naming_it() -> None:
    s = score("plain", type="contains", value="x", transform="json.countries")
    assert not s.passed and s.reason.startswith("transform raised AttributeError")


def test_bad_transform_is_refused() -> None:
    got = validate_assertion({"type": "contains", "value": "x", "transform": "json."})
    assert got and "'transform' not a Python expression" in got


# -- tool-call-only answers ---------------------------------------------------------------

CALL = Completion("", finish_reason="tool_calls",
                  tool_calls=(ToolCall("get_weather", {"city": "Paris"}),))


@pytest.mark.parametrize("kind", ["is-json", "contains", "equals", "length", "regex"])
def test_text_assertion_on_a_tool_call_says_so(kind: str) -> None:
    spec: dict[str, Any] = {"type": kind}
    if kind in ("contains", "equals", "regex"):
        spec["value"] = "Paris"
    elif kind == "length":
        spec["max"] = 100
    s = score("", CALL, **spec)
    assert not s.passed and "only a tool call (get_weather)" in s.reason


def test_negated_text_assertion_on_a_tool_call_does_not_pass_either() -> None:
    s = score("", CALL, type="not-contains", value="Paris")
    assert not s.passed and "only a tool call" in s.reason


def test_transform_names_the_text_of_a_tool_call() -> None:
    s = score("", CALL, type="contains", value="Paris", transform="tool_calls[0].arguments")
    assert s.passed, s.reason
    assert score("", CALL, type="tool-call", name="get_weather").passed


# -- every assertion key does something ---------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"type": "contains", "value": "x", "provider": "openai:gpt-4o-mini"}, "provider"),
        ({"type": "contains", "value": "x", "threshhold": 1}, "threshhold"),
        ({"type": "is-json", "schema": {}, "value": {}}, "not both"),
        ({"type": "latency", "max_ms": 10, "value": 3}, "value"),
        ({"type": "tool-call", "name": "f", "args": {}}, "args"),
        ({"type": "contains", "value": "x", "metric": ""}, "'metric' must be a name"),
    ],
)
def test_keys_a_type_does_not_use_are_refused(spec: dict[str, Any], key: str) -> None:
    got = validate_assertion(spec)
    assert got and key in got


def test_metric_is_carried_on_the_score() -> None:
    s = score(type="contains", value="Ada", metric="names")
    assert s.passed and s.metric == "names"
    s = score(type="not-contains", value="Ada", metric="names")
    assert not s.passed and s.metric == "names" and s.reason == "found 'Ada'"
