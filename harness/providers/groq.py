"""Groq through the official ``groq`` SDK (OpenAI-style chat completions).

Base URL: the target's ``base_url`` > GROQ_BASE_URL > https://api.groq.com (no path: the
SDK adds /openai/v1). Streamed usage arrives in the last chunk's ``x_groq.usage`` (the SDK
has no ``stream_options`` argument), with Groq's queue/prompt/completion timings beside it.
Structured output (``json_schema``) is model-dependent on Groq; a model without it answers
400, which surfaces as BadRequest with Groq's own message.
"""

from __future__ import annotations

from typing import Any, ClassVar

import groq

from harness.providers import _common as common
from harness.providers._chat import ChatCompletionsProvider
from harness.providers._transport import sdk_http_client
from harness.providers.base import ProviderSettings
from harness.types import Usage


class GroqProvider(ChatCompletionsProvider):
    name: ClassVar[str] = "groq"
    chat_path: ClassVar[str] = "/openai/v1/chat/completions"
    sdk_options = (
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "reasoning_effort",
        "reasoning_format",
        "include_reasoning",
        "service_tier",
        "parallel_tool_calls",
    )

    timing_header: ClassVar[str | None] = None

    def usage(self, response_or_chunk: Any) -> Usage | None:
        usage = _raw_usage(response_or_chunk)
        return None if usage is None else common.chat_usage(usage)

    def provider_ms(self, headers: Any, response_or_chunk: Any) -> float | None:
        """Groq reports its timings in the usage, in seconds: ``queue_time`` and
        ``total_time`` (prompt plus completion); their sum is the time spent at Groq."""
        usage = _raw_usage(response_or_chunk)
        total = getattr(usage, "total_time", None)
        if total is None:
            return None
        return common.seconds_ms(getattr(usage, "queue_time", None), total)

    def stream_params(self) -> dict[str, Any]:
        return {}


def _raw_usage(response_or_chunk: Any) -> Any:
    """The SDK's usage object: on the body, or in a stream's last chunk under x_groq."""
    usage = getattr(response_or_chunk, "usage", None)
    if usage is None:
        usage = getattr(getattr(response_or_chunk, "x_groq", None), "usage", None)
    return usage


def create(settings: ProviderSettings) -> GroqProvider:
    key = settings.require_key()
    client = groq.AsyncGroq(
        api_key=key,
        base_url=settings.base_url,
        max_retries=0,
        http_client=sdk_http_client(settings.options, "httpx"),
        _strict_response_validation=common.strict_validation(settings),
    )
    return GroqProvider(client, groq, secret=key)
