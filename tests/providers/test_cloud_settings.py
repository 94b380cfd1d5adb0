"""Adapter construction and request translation: base URL precedence, keys, what ``check``
refuses, and the parameters each adapter hands its SDK."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx2
import openai
import pytest
from cloudkit import CLOUD, COMPAT_KEY_ENV, KEY, MODELS, key_env, request, run, settings_for

from harness.errors import BadRequest, ConfigError, Unsupported
from harness.providers import PROVIDERS, create_provider
from harness.providers.base import Provider, ProviderSettings
from harness.simulator import Simulator
from harness.types import Request, Tool

TOOL = Tool(
    "lookup", "Look a word up.", {"type": "object", "properties": {"q": {"type": "string"}}}
)
LOOSE_SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}
STRICT_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "string"}},
    "required": ["a"],
    "additionalProperties": False,
}


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def build(provider: str, base_url: str | None = "http://127.0.0.1:9/v1", **options: Any) -> Any:
    """An adapter that is never called (nothing to close but its client)."""
    return create_provider(settings_for(provider, base_url, **options))


def close(adapter: Any) -> None:
    asyncio.run(adapter.aclose())


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for provider in CLOUD:
        monkeypatch.setenv(key_env(provider), KEY)


# -- construction ----------------------------------------------------------------------------


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("provider", CLOUD)
def test_registry_builds_a_provider_with_its_registry_identity(provider: str) -> None:
    adapter = build(provider)
    try:
        assert isinstance(adapter, Provider)
        assert adapter.name == PROVIDERS[provider].name
    finally:
        close(adapter)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "groq", "mistral"])
def test_a_missing_key_names_the_variable(provider: str) -> None:
    with pytest.raises(ConfigError, match=PROVIDERS[provider].api_key_env or "?"):
        create_provider(ProviderSettings(provider, PROVIDERS[provider].api_key_env))


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("provider", CLOUD)
def test_the_environment_base_url_is_used_when_the_target_has_none(
    provider: str, cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = PROVIDERS[provider].base_url_env
    assert env
    monkeypatch.setenv(env, cloud_sim.base_url(provider))
    before = cloud_sim.request_count()
    completion = run(settings_for(provider, None), request(provider))
    assert completion.model == MODELS[provider]
    assert cloud_sim.request_count() == before + 1


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("provider", CLOUD)
def test_the_target_base_url_beats_the_environment(
    provider: str, cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = PROVIDERS[provider].base_url_env
    assert env
    monkeypatch.setenv(env, dead_url())
    completion = run(settings_for(provider, cloud_sim.base_url(provider)), request(provider))
    assert completion.model == MODELS[provider]


def sdk_base_url(adapter: Any) -> str:
    if adapter.name == "mistral":
        return str(adapter.client.sdk_configuration.get_server_details()[0])
    return str(adapter.client.base_url)


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("provider", ["openai", "anthropic", "groq", "mistral"])
def test_without_target_or_environment_the_sdk_default_applies(provider: str) -> None:
    adapter = build(provider, None)
    try:
        assert sdk_base_url(adapter).rstrip("/") == PROVIDERS[provider].default_base_url
    finally:
        close(adapter)


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ConfigError, match="OPENAI_COMPATIBLE_BASE_URL"):
        create_provider(ProviderSettings("openai-compatible"))


def test_openai_compatible_works_without_a_key() -> None:
    with Simulator({"default": {"canned": {"France": "Paris."}}}) as sim:
        settings = ProviderSettings(
            "openai-compatible",
            None,
            sim.base_url("openai-compatible"),
            {"strict_validation": True},
        )
        completion = run(settings, request("openai-compatible"))
    assert completion.text == "Paris."


def test_openai_compatible_with_a_named_key_variable_requires_it() -> None:
    settings = ProviderSettings("openai-compatible", COMPAT_KEY_ENV, "http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match=COMPAT_KEY_ENV):
        create_provider(settings)


@pytest.mark.usefixtures("keys")
def test_openai_compatible_rejects_an_unknown_max_tokens_param() -> None:
    with pytest.raises(ConfigError, match="max_tokens_param"):
        build("openai-compatible", max_tokens_param="n_predict")


# -- check(): what is refused up front -------------------------------------------------------


@pytest.mark.usefixtures("keys")
def test_anthropic_refuses_a_temperature_instead_of_dropping_it() -> None:
    adapter = build("anthropic")
    try:
        with pytest.raises(Unsupported) as info:
            adapter.check(request("anthropic", temperature=0.7))
        assert "rejects temperature" in str(info.value)
        assert "remove temperatures from the suite or use null" in str(info.value)
        adapter.check(request("anthropic", temperature=None))
        with pytest.raises(Unsupported, match="top_p"):
            adapter.check(request("anthropic", options={"top_p": 0.9}))
    finally:
        close(adapter)


@pytest.mark.usefixtures("keys")
def test_anthropic_forced_tool_structured_output_cannot_mix_with_tools() -> None:
    adapter = build("anthropic")
    try:
        req = request(
            "anthropic",
            "claude-3-5-haiku-latest",
            structured="native",
            response_schema=STRICT_SCHEMA,
            tools=(TOOL,),
        )
        with pytest.raises(Unsupported, match="forced tool"):
            adapter.check(req)
        array = request(
            "anthropic",
            "claude-3-5-haiku-latest",
            structured="native",
            response_schema={"type": "array"},
        )
        with pytest.raises(Unsupported, match="object"):
            adapter.check(array)
    finally:
        close(adapter)


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(
    ("model", "temperature", "refused"),
    [
        ("o3-mini", 0.2, True),
        ("o4-mini-2025-04-16", 0.0, True),
        ("gpt-5-mini", 0.7, True),
        ("o3-mini", 1.0, False),
        ("o3-mini", None, False),
        ("gpt-4o-mini", 0.2, False),
        ("gpt-5-chat-latest", 0.2, False),
    ],
)
def test_openai_refuses_temperatures_reasoning_models_reject(
    model: str, temperature: float | None, refused: bool
) -> None:
    adapter = build("openai")
    try:
        req = request("openai", model, temperature=temperature)
        if refused:
            with pytest.raises(Unsupported, match="rejects temperature"):
                adapter.check(req)
        else:
            adapter.check(req)
    finally:
        close(adapter)


@pytest.mark.usefixtures("keys")
def test_a_400_about_temperature_becomes_unsupported() -> None:
    adapter = build("openai")
    try:
        http_request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
        body = {
            "error": {
                "message": "Unsupported value: 'temperature' does not support 0.2 with this "
                "model. Only the default (1) value is supported.",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "unsupported_value",
            }
        }
        response = httpx2.Response(400, json=body, request=http_request)
        exc = openai.BadRequestError("Error code: 400", response=response, body=body)
        mapped = adapter.map_error(exc, request("openai", "gpt-5.9", temperature=0.2))
        assert type(mapped) is Unsupported
        assert "remove it from the suite's temperatures" in str(mapped)
        other = adapter.map_error(exc, request("openai", "gpt-5.9"))
        assert type(other) is BadRequest
    finally:
        close(adapter)


# -- parameters handed to the SDK ------------------------------------------------------------


@pytest.mark.usefixtures("keys")
def test_openai_params() -> None:
    adapter = build("openai")
    try:
        req = request(
            "openai",
            temperature=None,
            seed=5,
            max_tokens=77,
            structured="native",
            response_schema=LOOSE_SCHEMA,
            tools=(TOOL,),
            tool_choice="lookup",
            options={"top_p": 0.5, "base_url": "x", "unknown_knob": 1, "extra_body": {"k": 1}},
        )
        p = adapter.params(req)
        assert p["max_completion_tokens"] == 77
        assert "max_tokens" not in p
        assert "temperature" not in p
        assert p["seed"] == 5
        assert p["top_p"] == 0.5
        assert "base_url" not in p and "unknown_knob" not in p
        assert p["extra_body"] == {"k": 1}
        assert p["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
        assert p["tools"][0]["function"]["name"] == "lookup"
        fmt = p["response_format"]
        assert fmt["type"] == "json_schema"
        # Not strict-compatible (no required, no additionalProperties: false): sent as-is.
        assert fmt["json_schema"]["strict"] is False
        assert fmt["json_schema"]["schema"] == LOOSE_SCHEMA
        strict = adapter.params(
            request("openai", structured="native", response_schema=STRICT_SCHEMA)
        )
        assert strict["response_format"]["json_schema"]["strict"] is True
        assert adapter.params(request("openai", temperature=0.0))["temperature"] == 0.0
        json_mode = adapter.params(
            request("openai", structured="json", response_schema=STRICT_SCHEMA)
        )
        assert "response_format" not in json_mode
    finally:
        close(adapter)


@pytest.mark.usefixtures("keys")
def test_openai_compatible_params_use_max_tokens_and_body_knobs() -> None:
    adapter = build("openai-compatible", max_tokens_param="max_tokens")
    try:
        p = adapter.params(request("openai-compatible", max_tokens=9, options={"top_k": 40}))
        assert p["max_tokens"] == 9
        assert p["extra_body"] == {"top_k": 40}
    finally:
        close(adapter)
    adapter = build("openai-compatible", max_tokens_param="max_completion_tokens")
    try:
        assert (
            adapter.params(request("openai-compatible", max_tokens=9))["max_completion_tokens"] == 9
        )
    finally:
        close(adapter)


@pytest.mark.usefixtures("keys")
def test_groq_params_and_no_stream_options() -> None:
    adapter = build("groq")
    try:
        p = adapter.params(request("groq", max_tokens=12, options={"reasoning_format": "hidden"}))
        assert p["max_completion_tokens"] == 12
        assert p["reasoning_format"] == "hidden"
        assert adapter.stream_params() == {}
    finally:
        close(adapter)


@pytest.mark.usefixtures("keys")
def test_anthropic_params() -> None:
    adapter = build("anthropic")
    try:
        req = Request(
            provider="anthropic",
            model="claude-haiku-4-5",
            messages=(
                request("anthropic").messages[0],
                request("anthropic").messages[1],
            ),
            max_tokens=64,
            seed=3,
            structured="native",
            response_schema=STRICT_SCHEMA,
            tools=(TOOL,),
            tool_choice="required",
            options={"effort": "low", "stop_sequences": ["END"]},
        )
        p = adapter.params(req)
        assert p["system"] == "You are terse."
        assert [m["role"] for m in p["messages"]] == ["user"]
        assert p["max_tokens"] == 64
        assert "seed" not in p and "temperature" not in p
        assert p["output_config"] == {
            "effort": "low",
            "format": {"type": "json_schema", "schema": STRICT_SCHEMA},
        }
        assert p["tools"] == [
            {"name": "lookup", "description": "Look a word up.", "input_schema": TOOL.parameters}
        ]
        assert p["tool_choice"] == {"type": "any"}
        assert p["stop_sequences"] == ["END"]
    finally:
        close(adapter)


@pytest.mark.usefixtures("keys")
def test_mistral_params() -> None:
    adapter = build("mistral")
    try:
        p = adapter.params(
            request(
                "mistral",
                max_tokens=20,
                timeout_s=2.5,
                seed=4,
                temperature=0.3,
                structured="native",
                response_schema=STRICT_SCHEMA,
                options={"safe_prompt": True},
            )
        )
        assert (p["max_tokens"], p["timeout_ms"], p["random_seed"]) == (20, 2500, 4)
        assert p["temperature"] == 0.3
        assert p["safe_prompt"] is True
        dumped = p["response_format"].model_dump(by_alias=True)
        assert dumped["type"] == "json_schema"
        assert dumped["json_schema"]["schema"] == STRICT_SCHEMA
        assert dumped["json_schema"]["strict"] is True
    finally:
        close(adapter)
