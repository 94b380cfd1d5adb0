"""Price table lookup, overrides and cost of mixed cached/uncached usage per provider."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.pricing import Price, cost_usd, load_prices
from harness.types import Usage


def test_every_row_has_source_and_date() -> None:
    table = load_prices()
    assert table.date == "2026-11-24"
    for provider in ("openai", "anthropic", "groq", "mistral"):
        rows = table.models_for(provider)
        assert rows, provider
        for row in rows:
            assert "2026-11-24" in row and "in $" in row and "out $" in row


def test_models_for_formats_a_row() -> None:
    rows = load_prices().models_for("openai")
    row = next(r for r in rows if r.startswith("gpt-4o-mini "))
    assert "in $0.15/M" in row and "cached in $0.075/M" in row and "out $0.6/M" in row
    assert "LiteLLM" in row


def test_lookup_exact_snapshot_and_wildcard() -> None:
    table = load_prices()
    mini = table.price_for("openai", "gpt-4o-mini")
    assert mini is not None and mini.input == 0.15
    assert table.price_for("openai", "gpt-4o-mini-2024-07-18") == mini
    haiku = table.price_for("anthropic", "claude-haiku-4-5-20251001")
    assert haiku is not None and haiku.cache_write_5m == 1.25
    local = table.price_for("local", "gemma-3-270m")
    assert local is not None and local.input == 0 and local.output == 0
    assert table.price_for("openai", "gpt-unknown") is None
    assert table.price_for("openai-compatible", "llama3") is None
    assert table.price_for("nope", "x") is None


def test_unpriced_is_none_not_zero() -> None:
    assert cost_usd(Usage(100, 10), None) is None
    price = Price(input=1.0, output=2.0)
    assert cost_usd(Usage(None, 10), price) is None  # no counts returned: unknown, not 0


def _cost(provider: str, model: str, usage: Usage) -> float:
    table = load_prices()
    c = cost_usd(usage, table.price_for(provider, model))
    assert c is not None
    return c


def test_openai_cached_and_reasoning_counted_once() -> None:
    # prompt_tokens 1000 incl. cached_tokens 400; completion 200 incl. reasoning 50.
    usage = Usage(input_tokens=1000, output_tokens=200, cached_input_tokens=400,
                  reasoning_tokens=50)
    # 600 * 0.15 + 400 * 0.075 + 200 * 0.60 = 90 + 30 + 120 = 240 per million
    assert _cost("openai", "gpt-4o-mini", usage) == pytest.approx(240e-6)


def test_anthropic_cache_read_and_write() -> None:
    # wire: input_tokens 100, cache_read 800, cache_creation 300 -> normalised total 1200
    usage = Usage(input_tokens=1200, output_tokens=50, cached_input_tokens=800,
                  cache_write_tokens=300)
    # 100 * 1 + 800 * 0.10 + 300 * 1.25 + 50 * 5 = 100 + 80 + 375 + 250 = 805
    assert _cost("anthropic", "claude-haiku-4-5", usage) == pytest.approx(805e-6)


def test_groq_without_cached_price_bills_cached_at_input() -> None:
    usage = Usage(input_tokens=500, output_tokens=100, cached_input_tokens=100)
    # 500 * 0.59 + 100 * 0.79 = 295 + 79 = 374
    assert _cost("groq", "llama-3.3-70b-versatile", usage) == pytest.approx(374e-6)
    usage2 = Usage(input_tokens=500, output_tokens=100, cached_input_tokens=100)
    # kimi has a cached price: 400 * 1.00 + 100 * 0.50 + 100 * 3.00 = 750
    assert _cost("groq", "moonshotai/kimi-k2-instruct-0905", usage2) == pytest.approx(750e-6)


def test_mistral_cached() -> None:
    usage = Usage(input_tokens=2000, output_tokens=300, cached_input_tokens=1000)
    # 1000 * 0.15 + 1000 * 0.015 + 300 * 0.60 = 150 + 15 + 180 = 345
    assert _cost("mistral", "mistral-small-latest", usage) == pytest.approx(345e-6)


def test_run_total_of_mixed_usage() -> None:
    calls = [
        ("openai", "gpt-4o-mini", Usage(1000, 200, 400, 0, 50)),
        ("openai", "gpt-4o-mini", Usage(1000, 200, 0, 0, 0)),  # 150 + 120 = 270
        ("anthropic", "claude-haiku-4-5", Usage(1200, 50, 800, 300)),
        ("anthropic", "claude-haiku-4-5", Usage(100, 50)),  # 100 + 250 = 350
        ("groq", "llama-3.3-70b-versatile", Usage(500, 100, 100)),
        ("mistral", "mistral-small-latest", Usage(2000, 300, 1000)),
    ]
    total = sum(_cost(p, m, u) for p, m, u in calls)
    assert total == pytest.approx((240 + 270 + 805 + 350 + 374 + 345) * 1e-6)


def test_separate_reasoning_price_takes_reasoning_out_of_output() -> None:
    price = Price(input=1.0, output=2.0, reasoning_output=8.0)
    # 100 * 1 + (200 - 50) * 2 + 50 * 8 = 100 + 300 + 400 = 800
    assert cost_usd(Usage(100, 200, reasoning_tokens=50), price) == pytest.approx(800e-6)


def test_overrides_change_and_extend() -> None:
    table = load_prices({
        "openai": {"gpt-4o-mini": {"input": 0.2, "source": "contract", "date": "2027-01-01"}},
        "openai-compatible": {"llama3": {"input": 0.01, "output": 0.02}},
    })
    mini = table.price_for("openai", "gpt-4o-mini")
    assert mini is not None
    assert (mini.input, mini.cached_input, mini.output) == (0.2, 0.075, 0.60)
    assert mini.source == "contract"
    new = table.price_for("openai-compatible", "llama3")
    assert new is not None and new.source == "configuration"
    # the data-file shape works too
    t2 = load_prices({"providers": {"groq": {"x": {"input": 1, "output": 1}}}})
    assert t2.price_for("groq", "x") is not None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"openai": {"new-model": {"input": 1.0}}}, "needs output"),
        ({"openai": {"gpt-4o": {"inptu": 1.0}}}, "unknown price field(s) inptu"),
        ({"openai": {"gpt-4o": {"input": -1}}}, "must be a number >= 0"),
        ({"openai": {"gpt-4o": {"input": "cheap"}}}, "must be a number >= 0"),
        ({"openai": ["gpt-4o"]}, "must be a mapping model -> fields"),
    ],
)
def test_bad_overrides_are_config_errors(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load_prices(overrides)
    assert message in str(info.value)


def test_price_file(tmp_path) -> None:
    from harness.pricing import read_price_file

    f = tmp_path / "prices.yaml"
    f.write_text("openai-compatible:\n  llama3: {input: 0.1, output: 0.2, source: vLLM box}\n")
    table = load_prices(read_price_file(f))
    row = table.price_for("openai-compatible", "llama3")
    assert row is not None and row.source == "vLLM box"
    (tmp_path / "bad.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_price_file(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="cannot read price file"):
        read_price_file(tmp_path / "missing.yaml")


def test_models_for_shows_both_cache_write_prices() -> None:
    row = next(r for r in load_prices().models_for("anthropic") if r.startswith("claude-haiku"))
    assert "cache write $1.25/M (1h $2/M)" in row
