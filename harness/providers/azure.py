"""Azure OpenAI through the official ``openai`` SDK's Azure client (chat completions).

A target ``azure:DEPLOYMENT`` names the deployment (Azure routes by deployment, not model).
From the environment, as the SDK reads them: the endpoint AZURE_OPENAI_ENDPOINT (or the
target's ``base_url``), the key AZURE_OPENAI_API_KEY (sent as ``api-key``), the API
version OPENAI_API_VERSION (or the target's ``options: {api_version: ...}``). Requests
and answers are OpenAI's chat completions, so everything else is the OpenAI adapter's.
Prices: Azure bills per deployment and region, so results are unpriced unless a price
override names the deployment (``--llm-prices``).
"""

from __future__ import annotations

import os
from typing import ClassVar

import openai

from harness.errors import ConfigError
from harness.providers import _common as common
from harness.providers._transport import sdk_http_client
from harness.providers.base import ProviderSettings
from harness.providers.openai import OpenAIProvider

ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
VERSION_ENV = "OPENAI_API_VERSION"


class AzureProvider(OpenAIProvider):
    name: ClassVar[str] = "azure"


def create(settings: ProviderSettings) -> AzureProvider:
    key = settings.require_key()
    endpoint = settings.base_url  # the target's, else AZURE_OPENAI_ENDPOINT (ProviderInfo)
    if not endpoint:
        raise ConfigError(
            f"azure: no endpoint. Set {ENDPOINT_ENV} (https://NAME.openai.azure.com) or give "
            "the target a base_url."
        )
    version = settings.options.get("api_version") or os.environ.get(VERSION_ENV)
    if not version:
        raise ConfigError(
            f"azure: no API version. Set {VERSION_ENV} (e.g. 2024-10-21) or the target's "
            "options: {api_version: ...}."
        )
    options = {k: v for k, v in settings.options.items() if k != "api_version"}
    client = openai.AsyncAzureOpenAI(
        api_key=key,
        azure_endpoint=endpoint,
        api_version=str(version),
        max_retries=0,
        http_client=sdk_http_client(options, "httpx2"),
        _strict_response_validation=common.strict_validation(settings),
    )
    return AzureProvider(client, openai, secret=key)
