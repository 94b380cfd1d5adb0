"""Any OpenAI-compatible chat server (vLLM, Ollama, LM Studio, llama.cpp server, ...)
through the ``openai`` SDK.

Base URL (required): the target's ``base_url`` > OPENAI_COMPATIBLE_BASE_URL; it usually
ends in ``/v1``. The key is optional: a target's ``api_key_env`` names one, otherwise a
placeholder is sent (the SDK insists on some key). Target options:
    max_tokens_param: max_tokens (default) | max_completion_tokens
    stream_usage: true (default) asks for usage in the last streamed chunk; set false for
        servers that reject ``stream_options``
    top_k, min_p, repetition_penalty: sampler knobs many servers accept, sent in the body
"""

from __future__ import annotations

from typing import ClassVar

import openai

from harness.errors import ConfigError
from harness.providers import _common as common
from harness.providers._chat import ChatCompletionsProvider
from harness.providers._transport import sdk_http_client
from harness.providers.base import ProviderSettings

#: Sent when no key is configured; local servers ignore it.
PLACEHOLDER_KEY = "not-needed"
_TOKEN_PARAMS = ("max_tokens", "max_completion_tokens")


class OpenAICompatibleProvider(ChatCompletionsProvider):
    name: ClassVar[str] = "openai-compatible"
    max_tokens_param = "max_tokens"
    sdk_options = (
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "reasoning_effort",
        "parallel_tool_calls",
        "logit_bias",
    )
    body_options = ("top_k", "min_p", "repetition_penalty")


def create(settings: ProviderSettings) -> OpenAICompatibleProvider:
    base_url = settings.base_url
    if not base_url:
        raise ConfigError(
            "openai-compatible: no base URL. Give the target a base_url "
            "(e.g. {provider: openai-compatible, model: llama3.2, base_url: "
            '"http://127.0.0.1:11434/v1"}) or set OPENAI_COMPATIBLE_BASE_URL.'
        )
    # A target that names a key variable means it; otherwise the server needs none.
    key = settings.require_key() if settings.api_key_env else None
    token_param = settings.options.get("max_tokens_param", "max_tokens")
    if token_param not in _TOKEN_PARAMS:
        raise ConfigError(
            f"openai-compatible: options.max_tokens_param must be one of {_TOKEN_PARAMS}, "
            f"got {token_param!r}"
        )
    client = openai.AsyncOpenAI(
        api_key=key or PLACEHOLDER_KEY,
        base_url=base_url,
        max_retries=0,
        http_client=sdk_http_client(settings.options, "httpx2"),
        _strict_response_validation=common.strict_validation(settings),
    )
    provider = OpenAICompatibleProvider(
        client,
        openai,
        secret=key,
        stream_usage=bool(settings.options.get("stream_usage", True)),
    )
    provider.max_tokens_param = token_param
    return provider
