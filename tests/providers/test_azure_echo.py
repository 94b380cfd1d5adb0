"""Azure's settings come from the environment (or the target), each missing one named; the
echo provider answers with the prompt and refuses what it cannot do."""

from __future__ import annotations

import asyncio

import pytest

from harness.errors import ConfigError, Unsupported
from harness.providers import create_provider
from harness.providers.base import ProviderSettings
from harness.types import Message, Request, Tool

pytest.importorskip("openai")


def azure(**options: object) -> ProviderSettings:
    return ProviderSettings("azure", api_key_env="AZURE_OPENAI_API_KEY", options=dict(options))


def test_azure_names_each_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="AZURE_OPENAI_API_KEY"):
        create_provider(azure())
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    with pytest.raises(ConfigError, match="AZURE_OPENAI_ENDPOINT"):
        create_provider(azure())
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:9/azure")
    with pytest.raises(ConfigError, match="OPENAI_API_VERSION"):
        create_provider(azure())
    provider = create_provider(azure(api_version="2024-10-21"))
    assert provider.name == "azure"
    asyncio.run(provider.aclose())


def request(**kw: object) -> Request:
    base: dict[str, object] = {
        "provider": "echo", "model": "stored", "max_tokens": 10,
        "messages": (Message("system", "be nice"), Message("user", "stored answer here")),
    }
    base.update(kw)
    return Request(**base)  # type: ignore[arg-type]


def test_echo_returns_the_last_user_message() -> None:
    provider = create_provider(ProviderSettings("echo"))
    provider.check(request())
    c = asyncio.run(provider.complete(request()))
    assert c.text == "stored answer here" and c.finish_reason == "stop"
    assert c.usage.output_tokens == 3 and c.usage.input_tokens == 5
    with pytest.raises(Unsupported, match="cannot call tools"):
        provider.check(request(tools=(Tool("f"),)))
    with pytest.raises(Unsupported, match="structured"):
        provider.check(request(structured="native", response_schema={"type": "object"}))
