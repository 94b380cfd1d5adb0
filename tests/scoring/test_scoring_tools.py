"""tool-call scorer on the normalised ToolCall shapes each provider adapter produces."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.scoring import ScoreContext, validate_assertion
from harness.scoring.base import run_one
from harness.types import Completion, ToolCall

ARGS = {"city": "Paris", "days": 3, "units": {"temp": "C"}}

#: What each adapter makes of the provider's wire shape (providers.md):
SHAPES = {
    # OpenAI / Groq: function.arguments is a JSON string, parsed into arguments.
    "openai": ToolCall("get_weather", ARGS, json.dumps(ARGS), "call_1"),
    "groq": ToolCall("get_weather", ARGS, json.dumps(ARGS), "call_abc"),
    # Anthropic: tool_use.input is an object; raw_arguments is its JSON text.
    "anthropic": ToolCall("get_weather", ARGS, json.dumps(ARGS, separators=(",", ":")), "toolu_1"),
    # Mistral: arguments may arrive as an object (no raw text) or a string.
    "mistral-object": ToolCall("get_weather", ARGS, "", "abc123xyz"),
    "mistral-string": ToolCall("get_weather", None, json.dumps(ARGS), "abc123xyz"),
}


def run(calls: list[Any], **spec: Any):
    problem = validate_assertion(spec)
    assert problem is None, problem
    completion = Completion("", finish_reason="tool_calls", tool_calls=tuple(calls))
    return run_one(ScoreContext(output="", completion=completion, vars={"c": "Paris"}), spec)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_provider_shape_passes_and_fails(shape: str) -> None:
    call = SHAPES[shape]
    assert run([call], type="tool-call", name="get_weather").passed
    assert run([call], type="tool-call", name="get_weather",
               arguments={"city": "{{ c }}", "days": 3}).passed
    assert run([call], type="tool-call", name="get_weather",
               arguments={"units": {"temp": "C"}}).passed
    wrong = run([call], type="tool-call", name="get_weather", arguments={"city": "Rome"})
    assert not wrong.passed and "$.city: expected 'Rome', got 'Paris'" in wrong.reason
    other = run([call], type="tool-call", name="get_time")
    assert not other.passed and "no call to get_time; called ['get_weather']" in other.reason


def test_cached_completion_round_trip_keeps_tool_calls() -> None:
    c = Completion("", tool_calls=(SHAPES["openai"],))
    back = Completion.from_dict(json.loads(json.dumps(c.to_dict())))
    ctx = ScoreContext(output="", completion=back)
    assert run_one(ctx, {"type": "tool-call", "name": "get_weather",
                         "arguments": {"days": 3}}).passed


def test_result_dict_tool_calls_accepted() -> None:
    as_dict = {"name": "get_weather", "arguments": ARGS, "raw_arguments": "", "id": "x"}
    assert run([as_dict], type="tool-call", name="get_weather", arguments={"days": 3}).passed


def test_arguments_schema() -> None:
    schema = {
        "type": "object",
        "required": ["city", "days"],
        "properties": {"days": {"type": "integer", "maximum": 7}},
    }
    assert run([SHAPES["openai"]], type="tool-call", name="get_weather", schema=schema).passed
    bad = ToolCall("get_weather", {"days": 10}, '{"days": 10}')
    s = run([bad], type="tool-call", name="get_weather", schema=schema)
    assert not s.passed
    assert "$.days: 10 is greater than the maximum of 7" in s.reason
    assert "'city' is a required property" in s.reason


def test_malformed_arguments_fail_with_raw_text() -> None:
    broken = ToolCall("get_weather", None, '{"city": "Par')
    s = run([broken], type="tool-call", name="get_weather", arguments={"city": "Paris"})
    assert not s.passed and "arguments are not a JSON object" in s.reason and "Par" in s.reason


def test_types_are_strict_but_int_equals_float() -> None:
    call = ToolCall("f", {"n": 3, "flag": True, "s": "3"}, "")
    assert run([call], type="tool-call", name="f", arguments={"n": 3.0}).passed
    assert not run([call], type="tool-call", name="f", arguments={"n": "3"}).passed
    assert not run([call], type="tool-call", name="f", arguments={"flag": 1}).passed
    s = run([call], type="tool-call", name="f", arguments={"missing": 1})
    assert not s.passed and "$.missing: missing" in s.reason


def test_several_calls_and_index() -> None:
    calls = [ToolCall("lookup", {"q": "a"}, ""), ToolCall("lookup", {"q": "b"}, "")]
    assert run(calls, type="tool-call", name="lookup", arguments={"q": "b"}).passed
    assert not run(calls, type="tool-call", name="lookup", arguments={"q": "b"}, index=0).passed
    assert run(calls, type="tool-call", name="lookup", arguments={"q": "b"}, index=1).passed
    s = run(calls, type="tool-call", name="lookup", index=5)
    assert not s.passed and "no tool call at index 5" in s.reason


def test_no_tool_calls() -> None:
    s = run([], type="tool-call", name="get_weather")
    assert not s.passed and "no tool call" in s.reason
    assert run([], type="not-tool-call", name="get_weather").passed


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "tool-call"}, "needs 'name'"),
        ({"type": "tool-call", "name": "f", "arguments": [1]}, "'arguments' must be a mapping"),
        ({"type": "tool-call", "name": "f", "schema": {"type": 5}}, "invalid arguments schema"),
        ({"type": "tool-call", "name": "f", "index": "0"}, "'index' must be an integer"),
    ],
)
def test_validation(spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion(spec)
    assert got is not None and problem in got
