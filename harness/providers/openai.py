"""OpenAI through the official ``openai`` SDK (chat completions).

Base URL: the target's ``base_url`` > OPENAI_BASE_URL > https://api.openai.com/v1.
The output limit is sent as ``max_completion_tokens`` (reasoning models reject
``max_tokens``). Reasoning models (o1/o3/o4 families, gpt-5/-mini/-nano) only accept
their default temperature, so other temperatures are refused in ``check``; a model the
table does not know answers 400, which is mapped to Unsupported as well.
"""

from __future__ import annotations

import re
from typing import ClassVar

import openai

from harness.errors import Unsupported
from harness.providers import _common as common
from harness.providers._chat import ChatCompletionsProvider
from harness.providers._transport import sdk_http_client
from harness.providers.base import ProviderSettings
from harness.types import Request

#: Models documented to reject any temperature but 1 (their reasoning is always on).
_FIXED_TEMPERATURE = re.compile(
    r"^(o\d(-(mini|pro|preview|deep-research))?|gpt-5(-mini|-nano|-pro|-codex)?)"
    r"(-\d{4}-\d{2}-\d{2})?$"
)


class OpenAIProvider(ChatCompletionsProvider):
    name: ClassVar[str] = "openai"
    sdk_options = (
        *ChatCompletionsProvider.sdk_options,
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
    )

    def check(self, request: Request) -> None:
        temperature = request.temperature
        if temperature is not None and temperature != 1 and _FIXED_TEMPERATURE.match(request.model):
            raise Unsupported(
                f"openai: {request.model} rejects temperature {temperature:g} (reasoning "
                "models only take their default); remove temperatures from the suite or "
                "use null",
                provider=self.name,
            )


def create(settings: ProviderSettings) -> OpenAIProvider:
    key = settings.require_key()
    client = openai.AsyncOpenAI(
        api_key=key,
        base_url=settings.base_url,
        max_retries=0,
        http_client=sdk_http_client(settings.options, "httpx2"),
        _strict_response_validation=common.strict_validation(settings),
    )
    return OpenAIProvider(client, openai, secret=key)
