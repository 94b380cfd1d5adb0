"""Fault injection seen through the real SDKs: each fault kind raises the SDK's own error
class (or ends the stream early), forced by header or model name, and drawn at configured
rates deterministically under a seed."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import groq
import httpx2
import openai
import pytest
from mistralai.client.errors import ResponseValidationError, SDKError

from harness.simulator import Simulator

USER = [{"role": "user", "content": "Hello there world, how are you today?"}]
CLAUDE = "claude-haiku-4-5"


def call(
    provider: str, client: Any, model: str = "m", headers: dict[str, str] | None = None
) -> Any:
    headers = headers or {}
    if provider == "anthropic":
        return client.messages.create(
            model=CLAUDE if model == "m" else model,
            max_tokens=64,
            messages=USER,
            extra_headers=headers,
        )
    if provider == "mistral":
        return client.chat.complete(model=model, messages=USER, http_headers=headers)
    return client.chat.completions.create(model=model, messages=USER, extra_headers=headers)


def stream(provider: str, client: Any, headers: dict[str, str]) -> tuple[str, Any]:
    """(text received, finish reason or None) of a streamed call."""
    if provider == "anthropic":
        with client.messages.stream(
            model=CLAUDE, max_tokens=64, messages=USER, extra_headers=headers
        ) as s:
            text = "".join(s.text_stream)
            return text, s.current_message_snapshot.stop_reason
    text, finish = "", None
    if provider == "mistral":
        for e in client.chat.stream(model="m", messages=USER, http_headers=headers):
            text += e.data.choices[0].delta.content or ""
            finish = e.data.choices[0].finish_reason or finish
        return text, finish
    for c in client.chat.completions.create(
        model="m", messages=USER, stream=True, extra_headers=headers
    ):
        if c.choices:
            text += c.choices[0].delta.content or ""
            finish = c.choices[0].finish_reason or finish
    return text, finish


STATUS_ERRORS: dict[str, dict[str, type[Exception]]] = {
    "openai": {
        "429": openai.RateLimitError,
        "500": openai.InternalServerError,
        "503": openai.InternalServerError,
        "overloaded": openai.InternalServerError,
        "401": openai.AuthenticationError,
        "404": openai.NotFoundError,
        "400": openai.BadRequestError,
    },
    "groq": {
        "429": groq.RateLimitError,
        "500": groq.InternalServerError,
        "503": groq.InternalServerError,
        "overloaded": groq.InternalServerError,
        "401": groq.AuthenticationError,
        "404": groq.NotFoundError,
        "400": groq.BadRequestError,
    },
    "anthropic": {
        "429": anthropic.RateLimitError,
        "500": anthropic.InternalServerError,
        "503": anthropic.ServiceUnavailableError,
        "overloaded": anthropic.OverloadedError,
        "401": anthropic.AuthenticationError,
        "404": anthropic.NotFoundError,
        "400": anthropic.BadRequestError,
    },
    "mistral": {k: SDKError for k in ("429", "500", "503", "overloaded", "401", "404", "400")},
}
EXPECTED_STATUS = {"429": 429, "500": 500, "503": 503, "401": 401, "404": 404, "400": 400}


@pytest.mark.parametrize("provider", STATUS_ERRORS)
@pytest.mark.parametrize("spec", ["429", "500", "503", "overloaded", "401", "404", "400"])
def test_forced_status_faults_raise_the_sdk_error(
    provider: str, spec: str, clients: dict[str, Any]
) -> None:
    with pytest.raises(STATUS_ERRORS[provider][spec]) as info:
        call(provider, clients[provider], headers={"x-sim-fault": spec})
    status = info.value.status_code
    if spec == "overloaded":
        assert status == (529 if provider == "anthropic" else 503)
    else:
        assert status == EXPECTED_STATUS[spec]


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_error_bodies_are_provider_shaped(provider: str, clients: dict[str, Any]) -> None:
    with pytest.raises(Exception) as info:
        call(provider, clients[provider], headers={"x-sim-fault": "rate_limit"})
    exc: Any = info.value
    if provider == "mistral":
        body = json.loads(exc.body)
        assert body["object"] == "error" and body["type"] == "rate_limited"
    elif provider == "anthropic":
        assert exc.body["type"] == "error"
        assert exc.body["error"]["type"] == "rate_limit_error"
        assert exc.request_id
    elif provider == "openai":
        assert exc.body["code"] == "rate_limit_exceeded"  # the SDK unwraps {"error": {...}}
    else:
        assert exc.body["error"]["code"] == "rate_limit_exceeded"  # groq keeps the wrapper


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_rate_limit_carries_retry_after(provider: str, fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim({"retry_after_s": 2.5})
    c = clients_for(s)
    with pytest.raises(Exception) as info:
        call(provider, c[provider], model="gpt-x-fault-429")
    exc: Any = info.value
    headers = exc.headers if provider == "mistral" else exc.response.headers
    assert headers["retry-after"] == "2.5"
    assert headers.get("retry-after-ms") == ("2500" if provider == "openai" else None)


def test_model_name_fault_with_count_fails_first_tries_then_answers(
    fresh_sim: Any, clients_for: Any
) -> None:
    s = fresh_sim()
    oc = clients_for(s)["openai"]
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            call("openai", oc, model="fault-429x2")
    assert call("openai", oc, model="fault-429x2").choices[0].message.content == USER[0]["content"]
    assert s.stats()["by_fault"] == {"rate_limit": 2}
    s.reset()  # forgets the tries too
    with pytest.raises(openai.RateLimitError):
        call("openai", oc, model="fault-429x2")


def test_sdk_retries_recover_from_a_counted_fault(fresh_sim: Any) -> None:
    s = fresh_sim({"retry_after_s": 0.01})
    with openai.OpenAI(base_url=s.base_url("openai"), api_key="k", max_retries=2) as oc:
        r = call("openai", oc, model="fault-429x2")  # retry-after-ms 10: quick retries
    assert r.choices[0].finish_reason == "stop"
    assert s.request_count(model="fault-429x2") == 3


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_hang_times_out_the_client(provider: str, fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim({"hang_s": 30})
    c = clients_for(s, timeout=0.2)
    expected: type[Exception] = {
        "openai": openai.APITimeoutError,
        "groq": groq.APITimeoutError,
        "anthropic": anthropic.APITimeoutError,
        "mistral": httpx2.ReadTimeout,
    }[provider]
    with pytest.raises(expected):
        call(provider, c[provider], headers={"x-sim-fault": "hang"})
    assert s.stats()["by_fault"] == {"hang": 1}


@pytest.mark.parametrize("provider", STATUS_ERRORS)
@pytest.mark.parametrize("streaming", [False, True])
def test_malformed_body_fails_to_parse(
    provider: str, streaming: bool, clients: dict[str, Any]
) -> None:
    expected = ResponseValidationError if provider == "mistral" else json.JSONDecodeError
    with pytest.raises(expected):
        if streaming:
            stream(provider, clients[provider], {"x-sim-fault": "malformed"})
        else:
            call(provider, clients[provider], headers={"x-sim-fault": "malformed"})


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_truncated_stream_ends_without_finish(provider: str, clients: dict[str, Any]) -> None:
    full, finish = stream(provider, clients[provider], {})
    assert finish is not None
    text, finish = stream(provider, clients[provider], {"x-sim-fault": "truncated_stream"})
    assert finish is None
    assert text and full.startswith(text) and len(text) < len(full)


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_stream_only_faults_leave_plain_calls_alone(provider: str, clients: dict[str, Any]) -> None:
    for kind in ("truncated_stream", "midstream_error"):
        call(provider, clients[provider], headers={"x-sim-fault": kind})


def test_truncated_stream_reset_mode_drops_the_connection(fresh_sim: Any, clients_for: Any) -> None:
    s = fresh_sim({"truncate_mode": "reset"})
    oc = clients_for(s)["openai"]
    with pytest.raises((openai.APIConnectionError, httpx2.RemoteProtocolError)):
        stream("openai", oc, {"x-sim-fault": "truncated_stream"})


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_midstream_error_raises(provider: str, clients: dict[str, Any]) -> None:
    expected: type[Exception] = {
        "openai": openai.APIError,
        "groq": groq.APIError,
        "anthropic": anthropic.APIStatusError,
        "mistral": ResponseValidationError,
    }[provider]
    with pytest.raises(expected) as info:
        stream(provider, clients[provider], {"x-sim-fault": "midstream_error"})
    if provider == "anthropic":
        assert info.value.status_code == 200
        assert info.value.body["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_require_key_rejects_wrong_and_accepts_right_key(
    provider: str, fresh_sim: Any, clients_for: Any
) -> None:
    s = fresh_sim({"require_key": "sk-right"})
    with pytest.raises(STATUS_ERRORS[provider]["401"]) as info:
        call(provider, clients_for(s, key="sk-wrong")[provider])
    assert info.value.status_code == 401
    assert call(provider, clients_for(s, key="sk-right")[provider]) is not None


def test_anthropic_accepts_x_api_key_header(fresh_sim: Any) -> None:
    s = fresh_sim({"require_key": "sk-right"})
    with anthropic.Anthropic(
        base_url=s.base_url("anthropic"),
        api_key=None,
        auth_token=None,
        default_headers={"x-api-key": "sk-right"},
        max_retries=0,
    ) as ac:
        assert call("anthropic", ac).content[0].text == USER[0]["content"]


@pytest.mark.parametrize("provider", STATUS_ERRORS)
def test_known_models_list_returns_404_for_others(
    provider: str, fresh_sim: Any, clients_for: Any
) -> None:
    s = fresh_sim({"known_models": {provider: ["good-model"]}})
    c = clients_for(s)
    assert call(provider, c[provider], model="good-model") is not None
    with pytest.raises(STATUS_ERRORS[provider]["404"]):
        call(provider, c[provider], model="bad-model")


def test_anthropic_refuses_sampling_params_with_new_api_version(clients: dict[str, Any]) -> None:
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        clients["anthropic"].messages.create(
            model=CLAUDE, max_tokens=16, messages=USER, extra_body={"temperature": 0.5}
        )


def outcomes(s: Simulator, n: int) -> list[str]:
    out = []
    with openai.OpenAI(base_url=s.base_url("openai"), api_key="k", max_retries=0) as oc:
        for i in range(n):
            messages = [{"role": "user", "content": f"question {i}"}]
            try:
                oc.chat.completions.create(model="gpt-4o-mini", messages=messages)
                out.append("ok")
            except openai.APIStatusError as exc:
                out.append(str(exc.status_code))
    return out


def test_fault_rates_are_deterministic_under_a_seed(fresh_sim: Any) -> None:
    config = {"seed": 11, "default": {"faults": {"rate_limit": 0.3, "server_error": 0.3}}}
    first = outcomes(fresh_sim(config), 30)
    again = outcomes(fresh_sim(config), 30)
    other = outcomes(fresh_sim({**config, "seed": 12}), 30)
    assert first == again
    assert first != other
    assert {"ok", "429"} <= set(first)
    assert set(first) <= {"ok", "429", "500", "503"}


def test_fault_rate_per_model_overrides_default(fresh_sim: Any) -> None:
    s = fresh_sim(
        {"default": {"faults": {"server_error": 1.0}}, "models": {"gpt-4o-mini": {"faults": {}}}}
    )
    assert outcomes(s, 3) == ["ok", "ok", "ok"]
    s.configure({"default": {"faults": {"server_error": 1.0}}})
    assert set(outcomes(s, 5)) <= {"500", "503"}
