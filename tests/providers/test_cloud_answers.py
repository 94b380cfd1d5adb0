"""Answers through the real SDKs and the simulator: plain and streamed text, usage (with
cached and cache-write tokens normalised), finish reasons, structured output and tool calls,
for every cloud adapter."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import jsonschema
import pytest
from cloudkit import ANSWER, CLOUD, MODELS, QUESTION, SYSTEM

from harness.simulator import tokens
from harness.types import Completion, Tool, Usage

Call = Callable[..., Completion]

PROMPT_TOKENS = tokens.count(f"{SYSTEM}\n{QUESTION}")
RAW_STOP = {"anthropic": "end_turn"}
RAW_LENGTH = {"anthropic": "max_tokens"}
RAW_TOOL = {"anthropic": "tool_use"}

SCHEMA = {
    "title": "City answer",
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "population": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["capital", "port"]}},
    },
    "required": ["city", "population", "tags"],
    "additionalProperties": False,
}
WEATHER = Tool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
        "required": ["city", "unit"],
    },
)
TIME = Tool(
    name="get_time",
    description="Local time in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def expected_usage(provider: str, prompt: int, output: int) -> Usage:
    # Usage.input_tokens is the total whatever the provider counts separately. Anthropic
    # also reports half its cache writes as 1-hour writes (usage.cache_creation) and its
    # service tier.
    writes = math.floor(prompt * 0.25) if provider == "anthropic" else 0
    return Usage(
        input_tokens=prompt,
        output_tokens=output,
        cached_input_tokens=math.floor(prompt * 0.5),
        cache_write_tokens=writes,
        cache_write_1h_tokens=math.floor(writes * 0.5),
        service_tier="standard" if provider == "anthropic" else None,
    )


@pytest.mark.parametrize("provider", CLOUD)
def test_plain_answer_is_normalised(provider: str, cloud_call: Call) -> None:
    c = cloud_call(provider)
    assert c.text == ANSWER
    assert c.usage == expected_usage(provider, PROMPT_TOKENS, tokens.count(ANSWER))
    assert (c.finish_reason, c.raw_finish_reason) == ("stop", RAW_STOP.get(provider, "stop"))
    assert c.tool_calls == ()
    assert c.model == MODELS[provider]
    assert c.ttft_ms is None
    assert c.latency_ms > 0
    assert c.request_id


@pytest.mark.parametrize("provider", CLOUD)
def test_streamed_answer_matches_plain_and_has_ttft(provider: str, cloud_call: Call) -> None:
    c = cloud_call(provider, stream=True)
    assert c.text == ANSWER
    # Streamed usage comes from a different place per provider (final chunk, x_groq,
    # message_start + message_delta): it must normalise to the same numbers.
    assert c.usage == expected_usage(provider, PROMPT_TOKENS, tokens.count(ANSWER))
    assert (c.finish_reason, c.raw_finish_reason) == ("stop", RAW_STOP.get(provider, "stop"))
    assert c.model == MODELS[provider]
    assert c.ttft_ms is not None
    assert 0 < c.ttft_ms <= c.latency_ms


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("provider", CLOUD)
def test_max_tokens_is_sent_and_a_cut_answer_says_length(
    provider: str, stream: bool, cloud_call: Call
) -> None:
    c = cloud_call(provider, max_tokens=3, stream=stream)
    assert c.text == "Paris is the"
    assert c.usage.output_tokens == 3
    assert (c.finish_reason, c.raw_finish_reason) == ("length", RAW_LENGTH.get(provider, "length"))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("provider", CLOUD)
def test_native_structured_output_sends_the_schema(
    provider: str, stream: bool, cloud_call: Call
) -> None:
    # The simulator answers schema-valid JSON only when the schema arrived in the
    # provider's native field; otherwise it would answer the canned sentence.
    c = cloud_call(provider, stream=stream, structured="native", response_schema=SCHEMA)
    jsonschema.validate(json.loads(c.text), SCHEMA)
    assert c.finish_reason == "stop"
    assert c.tool_calls == ()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_forced_tool_structured_output_returns_the_json_as_text(
    stream: bool, cloud_call: Call
) -> None:
    # claude-3* models predate output_config: the schema rides on a forced tool.
    c = cloud_call(
        "anthropic",
        "claude-3-5-haiku-latest",
        stream=stream,
        structured="native",
        response_schema=SCHEMA,
    )
    jsonschema.validate(json.loads(c.text), SCHEMA)
    assert c.tool_calls == ()
    assert (c.finish_reason, c.raw_finish_reason) == ("stop", "tool_use")


def test_anthropic_structured_mode_option_selects_the_forced_tool(cloud_call: Call) -> None:
    c = cloud_call(
        "anthropic",
        options={"structured_mode": "tool"},
        structured="native",
        response_schema=SCHEMA,
    )
    jsonschema.validate(json.loads(c.text), SCHEMA)
    assert c.raw_finish_reason == "tool_use"


@pytest.mark.parametrize("provider", CLOUD)
def test_structured_json_mode_sends_no_native_format(provider: str, cloud_call: Call) -> None:
    c = cloud_call(provider, structured="json", response_schema=SCHEMA)
    assert c.text == ANSWER


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("provider", CLOUD)
def test_forced_tool_call_is_normalised(provider: str, stream: bool, cloud_call: Call) -> None:
    c = cloud_call(provider, stream=stream, tools=(TIME, WEATHER), tool_choice="get_weather")
    assert c.text == ""
    assert (c.finish_reason, c.raw_finish_reason) == (
        "tool_calls",
        RAW_TOOL.get(provider, "tool_calls"),
    )
    (tc,) = c.tool_calls
    assert tc.name == "get_weather"
    assert tc.id
    assert tc.arguments is not None
    jsonschema.validate(tc.arguments, WEATHER.parameters)
    assert json.loads(tc.raw_arguments) == tc.arguments
    assert c.usage.output_tokens and c.usage.output_tokens > 0
    if stream:
        assert c.ttft_ms is not None and c.ttft_ms <= c.latency_ms


@pytest.mark.parametrize("provider", CLOUD)
def test_required_tool_choice_calls_a_tool(provider: str, cloud_call: Call) -> None:
    c = cloud_call(provider, tools=(TIME,), tool_choice="required")
    assert [tc.name for tc in c.tool_calls] == ["get_time"]
    assert c.finish_reason == "tool_calls"


@pytest.mark.parametrize("provider", CLOUD)
def test_tool_choice_none_answers_in_text(provider: str, cloud_call: Call) -> None:
    c = cloud_call(provider, tools=(TIME,), tool_choice="none")
    assert c.tool_calls == ()
    assert c.text == ANSWER
    assert c.finish_reason == "stop"


@pytest.mark.parametrize("provider", ["openai", "groq", "mistral", "openai-compatible"])
def test_temperature_and_seed_are_accepted(provider: str, cloud_call: Call) -> None:
    c = cloud_call(provider, temperature=0.7, seed=11)
    assert c.text == ANSWER
