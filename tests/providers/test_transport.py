"""The aiohttp transport under the SDKs: on by default, same answers and errors as the SDKs'
own httpx transport, and a target can switch back to plain httpx."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cloudkit import CLOUD, MODELS

from harness.errors import RateLimited, TransientError
from harness.providers import PROVIDERS, create_provider
from harness.providers._transport import use_aiohttp
from harness.providers.base import ProviderSettings
from harness.types import Completion


def test_transport_option() -> None:
    assert use_aiohttp({}) and use_aiohttp({"transport": "aiohttp"})
    assert not use_aiohttp({"transport": "httpx"}) and not use_aiohttp({"transport": "HTTPX"})


@pytest.mark.parametrize("provider", CLOUD)
def test_sdk_clients_send_through_aiohttp_unless_told_not_to(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_COMPAT_API_KEY", "k")
    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY"):
        monkeypatch.setenv(env, "k")

    def transport_name(options: dict[str, str]) -> str:
        key_var = PROVIDERS[provider].api_key_env or "SIM_COMPAT_API_KEY"
        settings = ProviderSettings(provider, key_var, "http://127.0.0.1:9/v1", options)
        adapter = create_provider(settings)
        client = adapter.client  # type: ignore[attr-defined]
        http = getattr(client, "_client", None)  # Stainless SDKs
        if http is None:  # mistralai keeps its clients in sdk_configuration
            http = client.sdk_configuration.async_client
        return type(http._transport).__name__

    assert transport_name({}) == "AiohttpTransport"
    assert transport_name({"transport": "httpx"}) != "AiohttpTransport"


@pytest.mark.parametrize("provider", CLOUD)
@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_both_transports_give_the_same_answer_and_errors(
    provider: str, transport: str, cloud_call: Callable[..., Completion]
) -> None:
    options = {"transport": transport}
    plain = cloud_call(provider, options=options)
    streamed = cloud_call(provider, options=options, stream=True)
    assert plain.text == streamed.text and plain.text
    assert plain.usage.input_tokens == streamed.usage.input_tokens
    with pytest.raises(RateLimited) as limited:
        cloud_call(provider, model=f"fault-429-{MODELS[provider]}", options=options)
    assert limited.value.retry_after_s == 2.5
    with pytest.raises(TransientError):
        cloud_call(
            provider,
            model=f"fault-truncated_stream-{MODELS[provider]}",
            options=options,
            stream=True,
        )
