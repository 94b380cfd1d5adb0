"""Lazy registry of provider adapters: name -> module, imported on first use.

A provider whose SDK is not installed still appears here; asking for it raises a
ConfigError naming the extra to install (``pip install 'pytest-llm-harness[groq]'``).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, replace

from harness.errors import ConfigError
from harness.providers.base import Provider, ProviderSettings


@dataclass(frozen=True)
class ProviderInfo:
    """Everything the harness knows about a provider, declared once: the registry, the
    pytest markers, the key and base-URL variables, the judge's request shape, the SDK
    versions in meta.json, the log guard and ``llm-harness providers`` read it."""

    name: str
    #: The adapter module (imported on first use; exposes ``create(settings)``).
    module: str
    #: The pip extra that installs its SDK: ``pip install 'pytest-llm-harness[<extra>]'``.
    extra: str
    #: The SDK's import name and distribution, checked without importing it (importing
    #: anthropic alone takes seconds).
    sdk_module: str
    sdk_dist: str
    #: Where the API key is read from (None: the provider needs none).
    api_key_env: str | None = None
    #: The environment variable that overrides the base URL, and the SDK's own default.
    base_url_env: str | None = None
    default_base_url: str | None = None
    #: Calls at most in flight at once whatever --llm-concurrency says (None: no cap of its
    #: own); the local model runs one call at a time, so more would only queue.
    max_concurrency: int | None = None
    #: It takes a JSON schema as its own structured output (the local model as a grammar),
    #: so a judge asks for its verdict that way; the rest get JSON mode, which every
    #: chat-completions endpoint takes (Groq's schema support depends on the model).
    native_schema: bool = False
    #: The provider key of data/prices.yaml its calls bill under (None: no shipped rows,
    #: unpriced unless --llm-prices adds rows under its name).
    prices: str | None = None
    #: What a user should know about this provider's settings.
    notes: str = ""

    @property
    def marker(self) -> str:
        """The pytest marker of this provider's cells (``-m openai_compatible``)."""
        return self.name.replace("-", "_")

    def base_url(self, explicit: str | None) -> str | None:
        """The one base-URL rule: the target's own, then the environment variable, then
        None (the SDK's default)."""
        if explicit:
            return explicit
        if self.base_url_env:
            return os.environ.get(self.base_url_env) or None
        return None

    def missing_key(self, explicit_env: str | None = None) -> str | None:
        """The environment variable to set when the key is absent (a target's own
        ``api_key_env``, else this provider's), or None when it is set or none is needed."""
        env = explicit_env or self.api_key_env
        if env and not os.environ.get(env):
            return env
        return None


PROVIDERS: dict[str, ProviderInfo] = {
    info.name: info
    for info in (
        ProviderInfo(
            name="openai",
            module="harness.providers.openai",
            extra="openai",
            sdk_module="openai",
            sdk_dist="openai",
            api_key_env="OPENAI_API_KEY",
            base_url_env="OPENAI_BASE_URL",
            default_base_url="https://api.openai.com/v1",
            native_schema=True,
            prices="openai",
            notes="o1/o3/o4 and gpt-5/-mini/-nano take only temperature 1 (others: unsupported)",
        ),
        ProviderInfo(
            name="anthropic",
            module="harness.providers.anthropic",
            extra="anthropic",
            sdk_module="anthropic",
            sdk_dist="anthropic",
            api_key_env="ANTHROPIC_API_KEY",
            base_url_env="ANTHROPIC_BASE_URL",
            default_base_url="https://api.anthropic.com",
            native_schema=True,
            prices="anthropic",
            notes="temperature/top_p/top_k unsupported by the current API; seed not sent",
        ),
        ProviderInfo(
            name="groq",
            module="harness.providers.groq",
            extra="groq",
            sdk_module="groq",
            sdk_dist="groq",
            api_key_env="GROQ_API_KEY",
            base_url_env="GROQ_BASE_URL",
            default_base_url="https://api.groq.com",
            prices="groq",
            notes="json_schema structured output depends on the model",
        ),
        ProviderInfo(
            name="mistral",
            module="harness.providers.mistral",
            extra="mistral",
            sdk_module="mistralai",
            sdk_dist="mistralai",
            api_key_env="MISTRAL_API_KEY",
            base_url_env="MISTRAL_BASE_URL",
            default_base_url="https://api.mistral.ai",
            native_schema=True,
            prices="mistral",
        ),
        ProviderInfo(
            name="openai-compatible",
            module="harness.providers.openai_compatible",
            extra="openai",
            sdk_module="openai",
            sdk_dist="openai",
            base_url_env="OPENAI_COMPATIBLE_BASE_URL",
            notes="needs a base URL: OPENAI_COMPATIBLE_BASE_URL or a target's base_url",
        ),
        ProviderInfo(
            name="local",
            module="harness.providers.local",
            extra="local",
            sdk_module="llama_cpp",
            sdk_dist="llama-cpp-python",
            max_concurrency=1,
            native_schema=True,
            prices="local",
            notes="Gemma 3 270M in-process; one call at a time",
        ),
        ProviderInfo(
            name="azure",
            module="harness.providers.azure",
            extra="openai",
            sdk_module="openai",
            sdk_dist="openai",
            api_key_env="AZURE_OPENAI_API_KEY",
            base_url_env="AZURE_OPENAI_ENDPOINT",
            notes="azure:DEPLOYMENT; API version from OPENAI_API_VERSION or "
            "options.api_version; unpriced unless --llm-prices names the deployment",
        ),
        ProviderInfo(
            name="echo",
            module="harness.providers.echo",
            extra="",
            sdk_module="harness",
            sdk_dist="llm-harness",
            prices="echo",
            notes="answers with the prompt's last user message: grades stored outputs; free",
        ),
    )
}


def sdk_modules() -> tuple[str, ...]:
    """The import names of the SDKs behind the providers (each once; echo has none)."""
    return tuple(dict.fromkeys(i.sdk_module for i in PROVIDERS.values() if i.extra))


def sdk_distributions() -> tuple[str, ...]:
    """The SDKs' distribution names, for the versions meta.json records."""
    return tuple(dict.fromkeys(i.sdk_dist for i in PROVIDERS.values() if i.extra))


def provider_info(name: str) -> ProviderInfo:
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigError(f"unknown provider {name!r}; known providers: {known}") from None


def create_provider(settings: ProviderSettings) -> Provider:
    """Import the adapter module and build its provider from ``settings``, whose base URL
    is resolved here (ProviderInfo.base_url) so adapters take ``settings.base_url`` as is.

    Each adapter module exposes ``create(settings) -> Provider``.
    """
    info = provider_info(settings.name)
    settings = replace(settings, base_url=info.base_url(settings.base_url))
    try:
        module = importlib.import_module(info.module)
    except ImportError as exc:
        raise ConfigError(
            f"provider {settings.name!r} needs an SDK that is not installed ({exc.name}). "
            f"Install it with: pip install 'pytest-llm-harness[{info.extra}]'"
        ) from None
    provider: Provider = module.create(settings)
    return provider
