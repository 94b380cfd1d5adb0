"""Shared constants and helpers for the cloud adapter tests (imported by conftest and the
test modules; a unique name so it cannot clash with other test folders' helpers)."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.providers import PROVIDERS, create_provider
from harness.providers.base import Provider, ProviderSettings
from harness.types import Completion, Message, Request

KEY = "sk-sim-adapter-test-7f3a9c"
#: Target-level key variable for openai-compatible (the registry gives it none).
COMPAT_KEY_ENV = "SIM_COMPAT_API_KEY"
CLOUD = ("openai", "anthropic", "groq", "mistral", "openai-compatible")
MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "groq": "llama-3.1-8b-instant",
    "mistral": "mistral-small-latest",
    "openai-compatible": "llama3.2",
}
ANSWER = "Paris is the capital of France."
SYSTEM = "You are terse."
QUESTION = "What is the capital of France?"
SIM_CONFIG: dict[str, Any] = {
    "seed": 3,
    "require_key": KEY,
    "retry_after_s": 2.5,
    "hang_s": 3,
    "default": {
        "latency_ms": 0,
        "cached_share": 0.5,
        "cache_write_share": 0.25,
        "cache_write_1h_share": 0.5,
        "canned": {"capital of France": ANSWER},
    },
}


def key_env(provider: str) -> str:
    return PROVIDERS[provider].api_key_env or COMPAT_KEY_ENV


def settings_for(
    provider: str, base_url: str | None, *, key_var: str | None = None, **options: Any
) -> ProviderSettings:
    return ProviderSettings(
        name=provider,
        api_key_env=key_var or key_env(provider),
        base_url=base_url,
        options={"strict_validation": True, **options},
    )


def request(provider: str, model: str | None = None, **fields: Any) -> Request:
    fields.setdefault("max_tokens", 50)
    fields.setdefault("timeout_s", 10.0)
    return Request(
        provider=provider,
        model=model or MODELS[provider],
        messages=(Message("system", SYSTEM), Message("user", QUESTION)),
        **fields,
    )


def run(settings: ProviderSettings, req: Request) -> Completion:
    """check() then complete() on a fresh adapter, closed afterwards."""

    async def go() -> Completion:
        provider: Provider = create_provider(settings)
        try:
            provider.check(req)
            return await provider.complete(req)
        finally:
            await provider.aclose()

    return asyncio.run(go())
