"""The provider registry (harness.providers.PROVIDERS) is what the rest of the harness reads
for per-provider facts: the judge's request shape, the price rows, the SDKs."""

from __future__ import annotations

from importlib import metadata

import pytest

from harness.calls.pricing import load_prices
from harness.providers import PROVIDERS, sdk_distributions, sdk_modules
from harness.run import logguard
from harness.run.session import versions
from harness.scoring.rubric import VERDICT_SCHEMA, verdict_format


def test_every_shipped_price_row_bills_under_a_provider() -> None:
    linked = {info.prices for info in PROVIDERS.values() if info.prices}
    assert linked == set(load_prices().providers())
    # Azure prices per deployment and an OpenAI-compatible server is anyone's: no rows.
    assert PROVIDERS["azure"].prices is None and PROVIDERS["openai-compatible"].prices is None


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_judge_asks_for_a_schema_only_where_the_provider_takes_one(name: str) -> None:
    native = {"structured": "native", "response_schema": VERDICT_SCHEMA}
    json_mode = {"structured": "json", "response_schema": None}
    assert verdict_format(name) == (native if PROVIDERS[name].native_schema else json_mode)


def test_native_schema_providers() -> None:
    assert sorted(n for n, i in PROVIDERS.items() if i.native_schema) == [
        "anthropic", "local", "mistral", "openai"
    ]


def test_sdks_come_from_the_registry() -> None:
    assert sdk_modules() == ("openai", "anthropic", "groq", "mistralai", "llama_cpp")
    assert "llama-cpp-python" in sdk_distributions() and "llm-harness" not in sdk_distributions()
    for module in sdk_modules():
        assert logguard._noisy(f"{module}._base_client")
    found = versions()
    for dist in sdk_distributions():
        try:
            installed = metadata.version(dist)
        except metadata.PackageNotFoundError:
            assert dist not in found
        else:
            assert found[dist] == installed
