"""Plain and streamed answers through the four real SDKs with strict response validation."""

from __future__ import annotations

from typing import Any

import pytest

from harness.simulator import Simulator

PROMPT = "Hello there, simulated world!"
MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "groq": "llama-3.1-8b-instant",
    "mistral": "mistral-small-latest",
}


def plain(provider: str, client: Any, model: str, prompt: str, **kw: Any) -> tuple[str, Any, str]:
    """(text, usage, finish reason) of a non-streamed call."""
    messages = [{"role": "user", "content": prompt}]
    if provider == "anthropic":
        m = client.messages.create(
            model=model, max_tokens=kw.pop("max_tokens", 256), messages=messages, **kw
        )
        return m.content[0].text, m.usage, m.stop_reason
    if provider == "mistral":
        r = client.chat.complete(model=model, messages=messages, **kw)
    else:
        r = client.chat.completions.create(model=model, messages=messages, **kw)
    return r.choices[0].message.content, r.usage, r.choices[0].finish_reason


def streamed(
    provider: str, client: Any, model: str, prompt: str, **kw: Any
) -> tuple[list[str], Any, Any]:
    """(content pieces, usage, finish reason) of a streamed call."""
    messages = [{"role": "user", "content": prompt}]
    if provider == "anthropic":
        with client.messages.stream(
            model=model, max_tokens=kw.pop("max_tokens", 256), messages=messages, **kw
        ) as s:
            pieces = list(s.text_stream)
            final = s.get_final_message()
        return pieces, final.usage, final.stop_reason
    pieces, usage, finish = [], None, None
    if provider == "mistral":
        for event in client.chat.stream(model=model, messages=messages, **kw):
            chunk = event.data
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
            usage = chunk.usage or usage
        return pieces, usage, finish
    extra = {"stream_options": {"include_usage": True}} if provider == "openai" else {}
    for chunk in client.chat.completions.create(
        model=model, messages=messages, stream=True, **extra, **kw
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
        if provider == "groq" and chunk.x_groq and chunk.x_groq.usage:
            usage = chunk.x_groq.usage
        elif provider == "openai" and chunk.usage:
            usage = chunk.usage
    return pieces, usage, finish


def prompt_and_completion(provider: str, usage: Any) -> tuple[int, int]:
    if provider == "anthropic":
        return (
            usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens,
            usage.output_tokens,
        )
    return usage.prompt_tokens, usage.completion_tokens


@pytest.mark.parametrize("provider", MODELS)
def test_plain_echoes_last_user_message_with_usage(provider: str, clients: dict[str, Any]) -> None:
    text, usage, finish = plain(provider, clients[provider], MODELS[provider], PROMPT)
    assert text == PROMPT
    assert finish == ("end_turn" if provider == "anthropic" else "stop")
    # tokens: Hello there , simulated world !
    assert prompt_and_completion(provider, usage) == (6, 6)


@pytest.mark.parametrize("provider", MODELS)
def test_stream_pieces_join_to_answer_and_carry_usage(
    provider: str, clients: dict[str, Any]
) -> None:
    pieces, usage, finish = streamed(provider, clients[provider], MODELS[provider], PROMPT)
    assert "".join(pieces) == PROMPT
    assert len(pieces) == 6
    assert usage is not None
    assert prompt_and_completion(provider, usage) == (6, 6)
    assert finish == ("end_turn" if provider == "anthropic" else "stop")


@pytest.mark.parametrize("provider", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_truncates_with_length_finish(
    provider: str, stream: bool, clients: dict[str, Any]
) -> None:
    call = streamed if stream else plain
    out, usage, finish = call(provider, clients[provider], MODELS[provider], PROMPT, max_tokens=3)
    text = "".join(out) if stream else out
    assert text == "Hello there,"
    assert finish == ("max_tokens" if provider == "anthropic" else "length")
    assert prompt_and_completion(provider, usage)[1] == 3


def test_stats_count_requests_by_route_and_model(fresh_sim: Any, clients_for: Any) -> None:
    s: Simulator = fresh_sim()
    c = clients_for(s)
    plain("openai", c["openai"], "gpt-4o-mini", "a")
    plain("openai", c["openai"], "gpt-4o", "b")
    plain("anthropic", c["anthropic"], "claude-haiku-4-5", "c")
    stats = s.stats()
    assert stats["total"] == 3
    assert stats["by_route"] == {"openai": 2, "anthropic": 1}
    assert stats["by_route_model"]["openai"] == {"gpt-4o-mini": 1, "gpt-4o": 1}
    assert s.request_count("openai") == 2
    assert s.request_count(model="claude-haiku-4-5") == 1
    assert s.request_count("anthropic", "gpt-4o") == 0
    s.reset()
    assert s.stats()["total"] == 0


def test_base_urls_follow_the_sdk_conventions() -> None:
    with Simulator() as s:
        assert s.url.startswith("http://127.0.0.1:")
        assert s.base_url("openai") == s.url + "/openai/v1"
        assert s.base_url("openai-compatible") == s.url + "/openai/v1"
        assert s.base_url("anthropic") == s.url + "/anthropic"
        assert s.base_url("groq") == s.url + "/groq"
        assert s.base_url("mistral") == s.url + "/mistral"
