"""JSON-schema answers, tool calls, canned answers and cached-token usage, through the real
SDKs (strict validation)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pydantic
import pytest

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 1},
        "home": {"$ref": "#/$defs/address"},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "active": {"type": "boolean"},
    },
    "required": ["name", "age", "score", "tags", "home", "nickname", "active"],
    "additionalProperties": False,
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string", "maxLength": 5}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        }
    },
}
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
TIME = {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "get_time", "parameters": TIME}},
]
ANTHROPIC_TOOLS = [
    {"name": "get_weather", "description": "weather", "input_schema": WEATHER},
    {"name": "get_time", "description": "time", "input_schema": TIME},
]
MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "groq": "llama-3.3-70b-versatile",
    "mistral": "mistral-small-latest",
}
USER = [{"role": "user", "content": "Describe a person."}]


def json_answer(provider: str, client: Any, stream: bool, schema: dict[str, Any] = SCHEMA) -> str:
    model = MODELS[provider]
    if provider == "anthropic":
        config = {"format": {"type": "json_schema", "schema": schema}}
        if stream:
            with client.messages.stream(
                model=model, max_tokens=512, messages=USER, output_config=config
            ) as s:
                return "".join(s.text_stream)
        m = client.messages.create(model=model, max_tokens=512, messages=USER, output_config=config)
        return str(m.content[0].text)
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "person", "strict": True, "schema": schema},
    }
    if provider == "mistral":
        if stream:
            events = client.chat.stream(model=model, messages=USER, response_format=fmt)
            return "".join(e.data.choices[0].delta.content or "" for e in events)
        r = client.chat.complete(model=model, messages=USER, response_format=fmt)
        return str(r.choices[0].message.content)
    if stream:
        chunks = client.chat.completions.create(
            model=model, messages=USER, response_format=fmt, stream=True
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    r = client.chat.completions.create(model=model, messages=USER, response_format=fmt)
    return str(r.choices[0].message.content)


def tool_call(
    provider: str, client: Any, stream: bool, forced: str | None = None
) -> tuple[str, dict[str, Any], str]:
    """(tool name, parsed arguments, finish reason)."""
    model = MODELS[provider]
    if provider == "anthropic":
        kw: dict[str, Any] = {"tools": ANTHROPIC_TOOLS}
        if forced:
            kw["tool_choice"] = {"type": "tool", "name": forced}
        if stream:
            with client.messages.stream(model=model, max_tokens=512, messages=USER, **kw) as s:
                m = s.get_final_message()
        else:
            m = client.messages.create(model=model, max_tokens=512, messages=USER, **kw)
        block = m.content[0]
        assert block.type == "tool_use"
        assert block.id.startswith("toolu_")
        return block.name, block.input, m.stop_reason
    kw = {"tools": OPENAI_TOOLS}
    if forced:
        kw["tool_choice"] = {"type": "function", "function": {"name": forced}}
    if provider == "mistral":
        if stream:
            name, args, finish = "", "", ""
            for e in client.chat.stream(model=model, messages=USER, **kw):
                choice = e.data.choices[0]
                for call in choice.delta.tool_calls or []:
                    name += call.function.name or ""
                    a = call.function.arguments
                    args += a if isinstance(a, str) else json.dumps(a)
                finish = choice.finish_reason or finish
            return name, json.loads(args), finish
        r = client.chat.complete(model=model, messages=USER, **kw)
        call = r.choices[0].message.tool_calls[0]
        return call.function.name, json.loads(call.function.arguments), r.choices[0].finish_reason
    if stream:
        name, args, finish, ids = "", "", "", []
        for c in client.chat.completions.create(model=model, messages=USER, stream=True, **kw):
            if not c.choices:
                continue
            for call in c.choices[0].delta.tool_calls or []:
                assert call.index == 0
                if call.id:
                    ids.append(call.id)
                name += (call.function.name or "") if call.function else ""
                args += (call.function.arguments or "") if call.function else ""
            finish = c.choices[0].finish_reason or finish
        assert len(ids) == 1
        return name, json.loads(args), finish
    r = client.chat.completions.create(model=model, messages=USER, **kw)
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].message.content is None
    return call.function.name, json.loads(call.function.arguments), r.choices[0].finish_reason


@pytest.mark.parametrize("provider", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_answer_validates(provider: str, stream: bool, clients: dict[str, Any]) -> None:
    value = json.loads(json_answer(provider, clients[provider], stream))
    jsonschema.validate(value, SCHEMA)


@pytest.mark.parametrize("provider", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_for_first_tool_with_schema_valid_arguments(
    provider: str, stream: bool, clients: dict[str, Any]
) -> None:
    name, args, finish = tool_call(provider, clients[provider], stream)
    assert name == "get_weather"
    jsonschema.validate(args, WEATHER)
    assert finish == ("tool_use" if provider == "anthropic" else "tool_calls")


@pytest.mark.parametrize("provider", MODELS)
def test_forced_tool_is_the_one_called(provider: str, clients: dict[str, Any]) -> None:
    name, args, _ = tool_call(provider, clients[provider], False, forced="get_time")
    assert name == "get_time"
    jsonschema.validate(args, TIME)


class Person(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str]


def test_sdk_parse_helpers_accept_generated_json(clients: dict[str, Any]) -> None:
    r = clients["openai"].chat.completions.parse(
        model="gpt-4o-mini", messages=USER, response_format=Person
    )
    assert isinstance(r.choices[0].message.parsed, Person)
    m = clients["anthropic"].messages.parse(
        model="claude-haiku-4-5", max_tokens=256, messages=USER, output_format=Person
    )
    assert isinstance(m.parsed_output, Person)


def test_answer_after_tool_result_is_text(clients: dict[str, Any]) -> None:
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    r = clients["openai"].chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=OPENAI_TOOLS
    )
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.tool_calls is None


def test_invalid_json_rate_one_breaks_every_json_answer(fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim({"default": {"invalid_json_rate": 1.0}})
    c = clients_for(s)
    for provider in MODELS:
        with pytest.raises(json.JSONDecodeError):
            json.loads(json_answer(provider, c[provider], False))


def test_canned_answers_by_substring_case_id_and_default(fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim(
        {
            "default": {
                "canned": {"capital of France": "Paris", "case-7": "Seven", "*": "No idea"},
            },
            "models": {"gpt-4o": {"canned": {"capital": "Lyon"}}},
        }
    )
    oc = clients_for(s)["openai"]

    def ask(content: str, model: str = "gpt-4o-mini", **kw: Any) -> str:
        r = oc.chat.completions.create(
            model=model, messages=[{"role": "user", "content": content}], **kw
        )
        return str(r.choices[0].message.content)

    assert ask("What is the capital of France?") == "Paris"
    assert ask("Anything", extra_headers={"x-sim-case-id": "case-7"}) == "Seven"
    assert ask("Something else") == "No idea"
    # the model entry replaces the default's canned map (and has no default of its own)
    assert ask("What is the capital of France?", model="gpt-4o") == "Lyon"


def test_canned_json_used_for_json_requests(fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim({"default": {"canned": {"person": {"name": "Ada", "age": 36}}}})
    c = clients_for(s)
    fmt = {"type": "json_object"}
    r = c["openai"].chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "a person"}], response_format=fmt
    )
    assert json.loads(r.choices[0].message.content) == {"name": "Ada", "age": 36}


def test_cached_tokens_in_each_provider_usage_shape(fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim(
        {"default": {"cached_share": 0.5, "cache_write_share": 0.25, "cache_write_1h_share": 0.5}}
    )
    c = clients_for(s)
    prompt = [{"role": "user", "content": "one two three four five six seven eight"}]  # 8 tokens
    o = c["openai"].chat.completions.create(model="gpt-4o-mini", messages=prompt)
    assert (o.usage.prompt_tokens, o.usage.prompt_tokens_details.cached_tokens) == (8, 4)
    g = c["groq"].chat.completions.create(model="llama-3.1-8b-instant", messages=prompt)
    assert (g.usage.prompt_tokens, g.usage.prompt_tokens_details.cached_tokens) == (8, 4)
    m = c["mistral"].chat.complete(model="mistral-small-latest", messages=prompt)
    assert m.usage.prompt_tokens == 8
    assert m.usage.additional_properties["prompt_tokens_details"] == {"cached_tokens": 4}
    a = c["anthropic"].messages.create(model="claude-haiku-4-5", max_tokens=64, messages=prompt)
    # Anthropic's input_tokens excludes cache reads and writes
    assert (a.usage.input_tokens, a.usage.cache_read_input_tokens) == (2, 4)
    assert a.usage.cache_creation_input_tokens == 2
    # the TTL split the SDK exposes as usage.cache_creation (1-hour writes cost more)
    assert a.usage.cache_creation is not None
    assert a.usage.cache_creation.ephemeral_5m_input_tokens == 1
    assert a.usage.cache_creation.ephemeral_1h_input_tokens == 1
