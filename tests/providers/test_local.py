"""The embedded local provider against the real bundled model (Gemma 3 270M, ~250 MB).

One provider (so one loaded model) is shared by the module; every call keeps max_tokens
small so the module runs in seconds on two cores.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

pytest.importorskip("llama_cpp")

from harness.errors import BadRequest, ConfigError, TransientError
from harness.providers import create_provider
from harness.providers.base import ProviderSettings
from harness.providers.local import (
    LocalProvider,
    call_seed,
    chat_messages,
    create,
    raw_prompt,
    tool_grammar,
)
from harness.types import Completion, Message, Request, Tool

pytestmark = pytest.mark.slow

FEW_SHOT = (
    Message("user", "Text: Cheers, Dana Fox (dana.fox@acme.example), ACME Ltd"),
    Message("assistant", '{"name": "Dana Fox", "email": "dana.fox@acme.example"}'),
    Message("user", "Text: Ask Leo Park at leo@park.example about the keys."),
)
CONTACT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "email": {"type": "string", "maxLength": 60},
    },
    "required": ["name", "email"],
    "additionalProperties": False,
}
TOOLS = (
    Tool(
        "get_weather",
        "Current weather for a city",
        {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 30}},
            "required": ["city"],
        },
    ),
    Tool(
        "track_order",
        "Where an order is",
        {
            "type": "object",
            "properties": {"order_id": {"type": "string", "maxLength": 12}},
            "required": ["order_id"],
        },
    ),
)


#: One worked tool call, then a new question: the few-shot shape the tool tests use.
TOOL_DIALOGUE = (
    Message("user", "Where is order A-1?"),
    Message("assistant", '{"name": "track_order", "arguments": {"order_id": "A-1"}}'),
    Message("user", "Is it raining in Oslo?"),
)


def request(**overrides: Any) -> Request:
    fields: dict[str, Any] = {
        "provider": "local",
        "model": "gemma-3-270m",
        "messages": FEW_SHOT,
        "max_tokens": 8,
        "temperature": 0.0,
        "seed": 7,
        # These tests check behaviour, not speed: a shared 2-core CI machine can make a
        # grammar-constrained call take minutes, which must not read as a timeout.
        "timeout_s": 600.0,
    }
    fields.update(overrides)
    return Request(**fields)


@pytest.fixture(scope="module")
def provider() -> Iterator[LocalProvider]:
    p = create(ProviderSettings("local"))
    yield p
    asyncio.run(p.aclose())


def run(provider: LocalProvider, req: Request) -> Completion:
    return asyncio.run(provider.complete(req))


def test_real_generation_reports_text_usage_and_timing(provider: LocalProvider) -> None:
    c = run(provider, request())
    assert c.text.strip()
    assert c.usage.input_tokens is not None and c.usage.input_tokens > 20
    assert c.usage.output_tokens is not None and 1 <= c.usage.output_tokens <= 8
    assert c.finish_reason in ("stop", "length")
    assert c.latency_ms > 0
    assert c.ttft_ms is None  # not a streaming request
    assert c.model == "gemma-3-270m"


def test_hitting_max_tokens_is_finish_reason_length(provider: LocalProvider) -> None:
    c = run(provider, request(max_tokens=2, messages=(Message("user", "Count: 1, 2, 3, 4,"),)))
    assert c.finish_reason == "length"
    assert c.raw_finish_reason == "length"
    assert c.usage.output_tokens == 2


def test_native_schema_output_is_schema_valid_json(provider: LocalProvider) -> None:
    c = run(
        provider,
        request(structured="native", response_schema=CONTACT_SCHEMA, max_tokens=60),
    )
    data = json.loads(c.text)
    jsonschema.validate(data, CONTACT_SCHEMA)
    assert c.finish_reason == "stop"


def test_streaming_measures_time_to_first_token(provider: LocalProvider) -> None:
    c = run(provider, request(stream=True, max_tokens=6))
    assert c.ttft_ms is not None
    assert 0 < c.ttft_ms < c.latency_ms
    assert c.output_tokens_per_s is not None and c.output_tokens_per_s > 0


def test_forced_tool_call_is_normalised(provider: LocalProvider) -> None:
    messages = TOOL_DIALOGUE
    c = run(
        provider,
        request(messages=messages, tools=TOOLS, tool_choice="required", max_tokens=40),
    )
    assert c.finish_reason == "tool_calls"
    assert c.text == ""
    (call,) = c.tool_calls
    assert call.name in {"get_weather", "track_order"}
    assert isinstance(call.arguments, dict)
    assert json.loads(call.raw_arguments) == call.arguments


def test_tool_choice_naming_a_tool_forces_that_tool(provider: LocalProvider) -> None:
    messages = TOOL_DIALOGUE
    c = run(
        provider,
        request(messages=messages, tools=TOOLS, tool_choice="track_order", max_tokens=40),
    )
    assert [t.name for t in c.tool_calls] == ["track_order"]


def test_same_seed_and_repeat_reproduce_a_sample(provider: LocalProvider) -> None:
    req = request(temperature=1.0, max_tokens=6, seed=11, repeat=1)
    assert run(provider, req).text == run(provider, req).text


def test_concurrent_calls_queue_and_latency_excludes_the_wait(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    llama = provider.model(request()).llama
    original = llama.create_chat_completion
    intervals: list[tuple[float, float]] = []

    def timed(**kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        try:
            yield from original(**kwargs)
        finally:
            intervals.append((start, time.perf_counter()))

    monkeypatch.setattr(llama, "create_chat_completion", timed)

    async def both() -> list[Completion]:
        return list(
            await asyncio.gather(
                provider.complete(request(max_tokens=12, messages=(Message("user", "One"),))),
                provider.complete(request(max_tokens=12, messages=(Message("user", "Two"),))),
            )
        )

    started = time.perf_counter()
    a, b = asyncio.run(both())
    wall_ms = (time.perf_counter() - started) * 1000
    (_, first_end), (second_start, _) = sorted(intervals)
    assert first_end <= second_start, (
        "the two generations overlapped: calls to one model must queue"
    )
    # Had the second call's latency included its wait for the first, the two latencies
    # would add up to more than the wall time of the pair.
    assert a.latency_ms + b.latency_ms <= wall_ms


def test_timeout_stops_generation_with_a_retryable_error(provider: LocalProvider) -> None:
    with pytest.raises(TransientError, match="timeout_s"):
        run(provider, request(timeout_s=1e-6, max_tokens=20))
    # The model is free again afterwards.
    assert run(provider, request(max_tokens=2)).usage.output_tokens == 2


def test_prompt_longer_than_the_context_is_a_bad_request() -> None:
    p = create(ProviderSettings("local", options={"n_ctx": 256}))
    try:
        with pytest.raises(BadRequest, match="exceed context window"):
            run(p, request(messages=(Message("user", "word " * 400),)))
    finally:
        asyncio.run(p.aclose())


def test_missing_model_file_is_a_config_error_with_the_fix(tmp_path: Any) -> None:
    p = create(ProviderSettings("local"))
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match="model file not found") as info:
        run(p, request(model=str(missing)))
    assert str(missing) in str(info.value)
    with pytest.raises(ConfigError, match="model_path"):
        run(p, request(model="gemma-99b"))


def test_raw_format_continues_the_text_without_a_chat_template() -> None:
    p = create(ProviderSettings("local", options={"chat_format": "raw"}))
    try:
        c = run(p, request(messages=(Message("user", "1, 2, 3, 4, 5, 6,"),), max_tokens=3))
    finally:
        asyncio.run(p.aclose())
    assert c.text.lstrip().startswith("7")
    assert c.usage.input_tokens is not None and c.usage.input_tokens < 20  # no turn markers


def test_stop_option_ends_the_answer_before_the_stop_text() -> None:
    p = create(ProviderSettings("local", options={"chat_format": "raw", "stop": [","]}))
    try:
        c = run(p, request(messages=(Message("user", "1, 2, 3, 4, 5, 6,"),), max_tokens=8))
    finally:
        asyncio.run(p.aclose())
    assert c.text.strip() == "7"
    assert c.finish_reason == "stop"


def test_raw_prompt_joins_the_messages_with_blank_lines() -> None:
    msgs = (Message("system", "Queues:"), Message("user", "Ticket: x\nQueue:"))
    assert raw_prompt(msgs) == "Queues:\n\nTicket: x\nQueue:"


def test_bad_options_are_config_errors() -> None:
    p = create(ProviderSettings("local", options={"n_threads": "two"}))
    with pytest.raises(ConfigError, match="n_threads"):
        run(p, request())
    p = create(ProviderSettings("local", options={"n_ctx": 64}))
    with pytest.raises(ConfigError, match="n_ctx must be an integer >= 256"):
        run(p, request())
    p = create(ProviderSettings("local", options={"stop": [""]}))
    with pytest.raises(ConfigError, match="stop must be"):
        run(p, request())
    p = create(ProviderSettings("local", options={"chat_format": "gemmma"}))
    with pytest.raises(ConfigError, match="valid formats"):
        run(p, request())


def test_tool_choice_naming_an_unknown_tool_is_refused() -> None:
    p = create(ProviderSettings("local"))
    with pytest.raises(BadRequest, match="not among the tools"):
        p.check(request(tools=TOOLS, tool_choice="send_email"))


def test_missing_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    monkeypatch.delitem(sys.modules, "harness.providers.local")
    with pytest.raises(ConfigError, match=r"llm-harness\[local\]"):
        create_provider(ProviderSettings("local"))


def test_gemma_format_folds_system_into_the_first_user_turn() -> None:
    msgs = (Message("system", "Be brief."), Message("user", "Hi"), Message("user", "Again"))
    assert chat_messages(msgs, "gemma") == [
        {"role": "user", "content": "Be brief.\n\nHi"},
        {"role": "user", "content": "Again"},
    ]
    assert chat_messages(msgs, "chatml")[0] == {"role": "system", "content": "Be brief."}


def test_seed_is_offset_by_repeat_and_random_without_one() -> None:
    assert call_seed(request(seed=5, repeat=0), {}) == 5
    assert call_seed(request(seed=5, repeat=3), {}) == 8
    assert call_seed(request(seed=None, repeat=2), {"seed": 1}) == 3
    draws = {call_seed(request(seed=None), {}) for _ in range(5)}
    assert len(draws) > 1


def test_auto_tool_grammar_allows_text_and_required_does_not() -> None:
    auto = tool_grammar(TOOLS, "auto")
    assert "harness-text" in auto and "root ::= harness-tool-call | harness-text" in auto
    required = tool_grammar(TOOLS, "required")
    assert "harness-text" not in required
    assert '"\\"get_weather\\""' in required and '"\\"track_order\\""' in required
    forced = tool_grammar(TOOLS, "get_weather")
    assert "track_order" not in forced
