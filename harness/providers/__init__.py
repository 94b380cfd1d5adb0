"""Lazy registry of provider adapters: name -> module, imported on first use.

A provider whose SDK is not installed still appears here; asking for it raises a
ConfigError naming the extra to install (``pip install 'llm-harness[groq]'``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.providers.base import Provider, ProviderSettings


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    module: str
    api_key_env: str | None
    base_url_env: str | None
    extra: str
    default_base_url: str | None
    #: The SDK's import name and distribution, checked without importing it (importing
    #: anthropic alone takes seconds).
    sdk_module: str = ""
    sdk_dist: str = ""
    #: What a user should know about this provider's settings.
    notes: str = ""


PROVIDERS: dict[str, ProviderInfo] = {
    "openai": ProviderInfo(
        "openai",
        "harness.providers.openai",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "openai",
        "https://api.openai.com/v1",
        "openai",
        "openai",
        "o1/o3/o4 and gpt-5/-mini/-nano take only temperature 1 (others: unsupported)",
    ),
    "anthropic": ProviderInfo(
        "anthropic",
        "harness.providers.anthropic",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "anthropic",
        "https://api.anthropic.com",
        "anthropic",
        "anthropic",
        "temperature/top_p/top_k unsupported by the current API; seed not sent",
    ),
    "groq": ProviderInfo(
        "groq",
        "harness.providers.groq",
        "GROQ_API_KEY",
        "GROQ_BASE_URL",
        "groq",
        "https://api.groq.com",
        "groq",
        "groq",
        "json_schema structured output depends on the model",
    ),
    "mistral": ProviderInfo(
        "mistral",
        "harness.providers.mistral",
        "MISTRAL_API_KEY",
        "MISTRAL_BASE_URL",
        "mistral",
        "https://api.mistral.ai",
        "mistralai",
        "mistralai",
    ),
    "openai-compatible": ProviderInfo(
        "openai-compatible",
        "harness.providers.openai_compatible",
        None,
        "OPENAI_COMPATIBLE_BASE_URL",
        "openai",
        None,
        "openai",
        "openai",
        "needs a base URL: OPENAI_COMPATIBLE_BASE_URL or a target's base_url",
    ),
    "local": ProviderInfo(
        "local",
        "harness.providers.local",
        None,
        None,
        "local",
        None,
        "llama_cpp",
        "llama-cpp-python",
        "Gemma 3 270M in-process; one call at a time",
    ),
    "azure": ProviderInfo(
        "azure",
        "harness.providers.azure",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "openai",
        None,
        "openai",
        "openai",
        "azure:DEPLOYMENT; API version from OPENAI_API_VERSION or options.api_version; "
        "unpriced unless --llm-prices names the deployment",
    ),
    "echo": ProviderInfo(
        "echo",
        "harness.providers.echo",
        None,
        None,
        "",
        None,
        "harness",
        "llm-harness",
        "answers with the prompt's last user message: grades stored outputs; free",
    ),
}


def provider_info(name: str) -> ProviderInfo:
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigError(f"unknown provider {name!r}; known providers: {known}") from None


def create_provider(settings: ProviderSettings) -> Provider:
    """Import the adapter module and build its provider from ``settings``.

    Each adapter module exposes ``create(settings) -> Provider``.
    """
    info = provider_info(settings.name)
    try:
        module = importlib.import_module(info.module)
    except ImportError as exc:
        raise ConfigError(
            f"provider {settings.name!r} needs an SDK that is not installed ({exc.name}). "
            f"Install it with: pip install 'llm-harness[{info.extra}]'"
        ) from None
    provider: Provider = module.create(settings)
    return provider
