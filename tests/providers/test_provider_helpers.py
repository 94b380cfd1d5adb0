"""The shared adapter helpers on their own: Retry-After parsing, tool-call and usage
normalisation, finish reasons, error mapping and schema strictness."""

from __future__ import annotations

import email.utils
import time
from types import SimpleNamespace

import pytest

from harness.errors import AuthError, BadRequest, RateLimited, TransientError
from harness.providers import _common as common
from harness.providers.anthropic import anthropic_usage, split_system, tool_choice
from harness.providers.mistral import content_text, mistral_usage
from harness.types import Message, ToolCall, Usage


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after-ms": "junk", "retry-after": "2"}, 2.0),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str] | None, expected: float | None) -> None:
    assert common.retry_after_s(headers) == expected


def test_retry_after_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = common.retry_after_s({"retry-after": when})
    assert wait is not None and 25 <= wait <= 31
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert common.retry_after_s({"retry-after": past}) == 0.0


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, RateLimited, True),
        (529, RateLimited, True),
        (500, TransientError, True),
        (502, TransientError, True),
        (503, TransientError, True),
        (408, TransientError, True),
        (409, TransientError, True),
        (401, AuthError, False),
        (403, AuthError, False),
        (400, BadRequest, False),
        (404, BadRequest, False),
        (413, BadRequest, False),
        (422, BadRequest, False),
    ],
)
def test_status_mapping(status: int, kind: type, retryable: bool) -> None:
    err = common.status_error("openai", status, "boom", headers={"retry-after": "3"}, model="m")
    assert type(err) is kind
    assert err.retryable is retryable
    assert err.status == status
    if retryable:
        assert err.retry_after_s == 3.0  # type: ignore[attr-defined]


def test_error_messages_never_carry_the_key_and_stay_short() -> None:
    key = "sk-live-abcdef123456"
    err = common.status_error(
        "openai", 401, f"Incorrect API key provided: {key}. " + "x" * 2000, secret=key
    )
    assert key not in str(err)
    assert "[redacted]" in str(err)
    assert len(str(err)) < 700


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"message": "openai says", "type": "x"}}, "openai says"),
        (
            {"type": "error", "error": {"type": "rate_limit_error", "message": "anthropic says"}},
            "anthropic says",
        ),
        ({"object": "error", "message": "mistral says", "type": "x"}, "mistral says"),
        ('{"object": "error", "message": "as text"}', "as text"),
        ("plain text", "plain text"),
        ({"detail": [{"loc": ["body"], "msg": "bad"}]}, '[{"loc": ["body"], "msg": "bad"}]'),
        (None, "fallback"),
    ],
)
def test_body_message_reads_every_providers_error_shape(body: object, message: str) -> None:
    assert common.body_message(body, "fallback") == message


def test_tool_call_parsing() -> None:
    assert common.tool_call("f", '{"a": 1}', "c1") == ToolCall("f", {"a": 1}, '{"a": 1}', "c1")
    assert common.tool_call("f", {"a": 1}).raw_arguments == '{"a": 1}'
    broken = common.tool_call("f", '{"a": ')
    assert broken.arguments is None and broken.raw_arguments == '{"a": '
    assert common.tool_call("f", "[1, 2]").arguments is None  # not an object
    assert common.tool_call("f", "").arguments == {}
    assert common.tool_call("f", None).arguments == {}


def test_streamed_tool_call_deltas_assemble_by_index() -> None:
    deltas = common.ToolCallDeltas()
    assert not deltas
    deltas.add(0, "call_a", "get_weather", '{"ci')
    deltas.add(1, "call_b", "get_time", "")
    deltas.add(0, None, None, 'ty": "Paris"}')
    deltas.add(1, None, None, '{"city": "Rome"}')
    assert deltas.calls() == (
        ToolCall("get_weather", {"city": "Paris"}, '{"city": "Paris"}', "call_a"),
        ToolCall("get_time", {"city": "Rome"}, '{"city": "Rome"}', "call_b"),
    )


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("model_length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        ("error", "error"),
        ("something_new", "other"),
    ],
)
def test_chat_finish_reasons(raw: str, normal: str) -> None:
    assert common.finish_reason(raw) == (normal, raw)


def test_missing_finish_reason_is_other() -> None:
    assert common.finish_reason(None) == ("other", None)


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            True,
        ),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, False),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            False,
        ),
        (
            {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"x": {"type": "number"}}},
                    }
                },
                "required": ["items"],
                "additionalProperties": False,
            },
            False,
        ),
        ({"type": "string"}, True),
    ],
)
def test_strict_schema_detection(schema: dict[str, object], strict: bool) -> None:
    assert common.is_strict_schema(schema) is strict


def test_schema_names_are_api_safe() -> None:
    assert common.schema_name({"title": "Invoice fields (v2)"}) == "Invoice_fields_v2"
    assert common.schema_name({}) == "response"
    assert len(common.schema_name({"title": "x" * 100})) == 64


def test_chat_usage_reads_cached_and_reasoning_tokens() -> None:
    usage = SimpleNamespace(
        prompt_tokens=100,
        completion_tokens=20,
        prompt_tokens_details=SimpleNamespace(cached_tokens=40),
        completion_tokens_details=SimpleNamespace(reasoning_tokens=5),
    )
    assert common.chat_usage(usage) == Usage(100, 20, 40, 0, 5)
    assert common.chat_usage(None) == Usage()


def test_anthropic_usage_totals_input_with_cache_traffic() -> None:
    usage = SimpleNamespace(
        input_tokens=10,
        output_tokens=7,
        cache_read_input_tokens=80,
        cache_creation_input_tokens=30,
        cache_creation=SimpleNamespace(ephemeral_5m_input_tokens=10, ephemeral_1h_input_tokens=20),
        output_tokens_details=SimpleNamespace(thinking_tokens=3),
        service_tier="batch",
    )
    assert anthropic_usage(usage) == Usage(
        input_tokens=120,
        output_tokens=7,
        cached_input_tokens=80,
        cache_write_tokens=30,
        cache_write_1h_tokens=20,
        reasoning_tokens=3,
        service_tier="batch",
    )
    bare = SimpleNamespace(input_tokens=10, output_tokens=7)
    assert anthropic_usage(bare) == Usage(10, 7)


def test_anthropic_messages_and_tool_choice() -> None:
    system, turns = split_system(
        (Message("system", "a"), Message("user", "q"), Message("system", "b"), Message("tool", "r"))
    )
    assert system == "a\n\nb"
    assert turns == [{"role": "user", "content": "q"}, {"role": "user", "content": "r"}]
    assert tool_choice("auto") == {"type": "auto"}
    assert tool_choice("none") == {"type": "none"}
    assert tool_choice("required") == {"type": "any"}
    assert tool_choice("lookup") == {"type": "tool", "name": "lookup"}


def test_mistral_usage_and_content() -> None:
    from mistralai.client import models

    usage = models.UsageInfo.model_validate(
        {
            "prompt_tokens": 50,
            "completion_tokens": 9,
            "total_tokens": 59,
            "prompt_tokens_details": {"cached_tokens": 20},
        }
    )
    assert mistral_usage(usage) == Usage(50, 9, 20)
    # An empty usage object means "not reported", not zero tokens.
    assert mistral_usage(models.UsageInfo.model_validate({})) == Usage()
    chunks = [
        SimpleNamespace(type="thinking", thinking="hmm"),
        SimpleNamespace(type="text", text="Hi"),
    ]
    assert content_text(chunks) == "Hi"
    assert content_text("plain") == "plain"
    assert content_text(None) == ""


def test_strict_schema_walks_definitions_and_unions_not_property_names() -> None:
    leaf = {
        "type": "object",
        "properties": {"v": {"type": "string"}},
        "required": ["v"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        # A property literally called "properties" is a name, not a keyword.
        "properties": {"properties": {"type": "string"}, "ref": {"$ref": "#/$defs/leaf"}},
        "required": ["properties", "ref"],
        "additionalProperties": False,
        "$defs": {"leaf": leaf},
    }
    assert common.is_strict_schema(schema)
    loose_leaf = {**leaf, "additionalProperties": True}
    assert not common.is_strict_schema({**schema, "$defs": {"leaf": loose_leaf}})
    assert not common.is_strict_schema({"anyOf": [leaf, loose_leaf]})
