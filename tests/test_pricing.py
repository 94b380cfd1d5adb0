"""Price table lookup, overrides and cost of mixed cached/uncached usage per provider."""

from __future__ import annotations

import pytest

from harness.calls.pricing import Price, cost_usd, load_prices
from harness.errors import ConfigError
from harness.types import Usage


def test_every_row_has_source_and_date() -> None:
    import re

    table = load_prices()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.date)
    for provider in ("openai", "anthropic", "groq", "mistral"):
        models = table._rows[provider]
        assert models, provider
        for model, price in models.items():
            assert price.source and re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.date), model
            assert price.date <= table.date, model
            # tiers are read from the same source as their row
            for tier in (price.long_context, price.batch):
                if tier is not None:
                    assert (tier.source, tier.date) == (price.source, price.date), model
        for row in table.models_for(provider):
            assert "in $" in row and "out $" in row


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
    from harness.calls.pricing import read_price_file

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


# -- 1-hour cache writes, long-context tiers, batch prices, common models ----------------


def test_anthropic_one_hour_cache_writes_cost_more_than_five_minute_ones() -> None:
    # claude-sonnet-4-5: input 3, 5m write 3.75, 1h write 6, read 0.30, output 15 ($/M).
    # wire: input_tokens 1000, cache_read 2000, cache_creation 4000 of which 1h 3000.
    usage = Usage(input_tokens=7000, output_tokens=500, cached_input_tokens=2000,
                  cache_write_tokens=4000, cache_write_1h_tokens=3000)
    # 1000*3 + 2000*0.30 + 1000*3.75 + 3000*6 + 500*15
    # = 3000 + 600 + 3750 + 18000 + 7500 = 32850 per million
    assert _cost("anthropic", "claude-sonnet-4-5", usage) == pytest.approx(32850e-6)
    # the same usage billed as if every write were 5-minute: 3000*3.75 = 11250 instead of
    # 18000 -- the old, low figure
    low = Usage(7000, 500, 2000, 4000)
    assert _cost("anthropic", "claude-sonnet-4-5", low) == pytest.approx(26100e-6)


def test_one_hour_writes_without_a_one_hour_price() -> None:
    usage = Usage(input_tokens=1000, output_tokens=0, cache_write_tokens=1000,
                  cache_write_1h_tokens=1000)
    # a row that prices 5-minute writes but not 1-hour ones: unknown, never the cheaper rate
    assert cost_usd(usage, Price(input=1.0, output=2.0, cache_write_5m=1.25)) is None
    # a row with no write prices at all (the provider does not charge writes): input rate
    assert cost_usd(usage, Price(input=1.0, output=2.0)) == pytest.approx(1000e-6)
    # more 1h tokens than writes (a provider glitch) never bills a token twice
    odd = Usage(input_tokens=1000, output_tokens=0, cache_write_tokens=100,
                cache_write_1h_tokens=500)
    price = Price(input=1.0, output=2.0, cache_write_5m=1.25, cache_write_1h=2.0)
    assert cost_usd(odd, price) == pytest.approx((900 * 1.0 + 100 * 2.0) * 1e-6)


def test_long_context_call_is_billed_whole_at_the_tier() -> None:
    # claude-sonnet-4-5 above 200K total input: input 6, 5m write 7.5, read 0.60, output 22.5.
    # 250,000 input in total: 150,000 uncached + 80,000 cache reads + 20,000 5m writes.
    usage = Usage(input_tokens=250_000, output_tokens=2_000, cached_input_tokens=80_000,
                  cache_write_tokens=20_000)
    # 150000*6 + 80000*0.6 + 20000*7.5 + 2000*22.5 = 900000 + 48000 + 150000 + 45000
    assert _cost("anthropic", "claude-sonnet-4-5-20250929", usage) == pytest.approx(1.143)
    # the threshold counts cached and written tokens too, and is "more than": exactly 200K
    # is standard: 100000*3 + 80000*0.3 + 20000*3.75 + 2000*15 = 300000+24000+75000+30000
    at = Usage(200_000, 2_000, 80_000, 20_000)
    assert _cost("anthropic", "claude-sonnet-4-5", at) == pytest.approx(0.429)
    # OpenAI's 272K tier on gpt-5.4: input 5, cached 0.50, output 22.5
    big = Usage(input_tokens=300_000, output_tokens=1_000, cached_input_tokens=100_000)
    # 200000*5 + 100000*0.5 + 1000*22.5 = 1000000 + 50000 + 22500
    assert _cost("openai", "gpt-5.4", big) == pytest.approx(1.0725)


def test_batch_tier_prices_and_unpriced_batch() -> None:
    # Anthropic reports usage.service_tier "batch": every price halves on claude-haiku-4-5.
    usage = Usage(input_tokens=1200, output_tokens=50, cached_input_tokens=800,
                  cache_write_tokens=300, service_tier="batch")
    # (100*1 + 800*0.1 + 300*1.25 + 50*5) / 2 = 805 / 2
    assert _cost("anthropic", "claude-haiku-4-5", usage) == pytest.approx(402.5e-6)
    # "standard" and "priority" are not batch
    standard = Usage(1200, 50, 800, 300, service_tier="standard")
    assert _cost("anthropic", "claude-haiku-4-5", standard) == pytest.approx(805e-6)
    # a batch call of a row without batch prices is unknown, not the standard price
    assert cost_usd(Usage(10, 10, service_tier="batch"), Price(input=1, output=1)) is None
    # batch and long context compose: gpt-5.4's batch tier has its own 272K tier
    big = Usage(300_000, 1_000, service_tier="batch")
    # 300000*2.5 + 1000*11.25 = 750000 + 11250
    assert _cost("openai", "gpt-5.4", big) == pytest.approx(0.76125)


@pytest.mark.parametrize(
    ("provider", "model", "input_price", "output_price"),
    [
        ("openai", "gpt-3.5-turbo", 0.5, 1.5),
        ("openai", "gpt-4", 30, 60),
        ("openai", "gpt-4-0613", 30, 60),
        ("openai", "gpt-4-turbo", 10, 30),
        # an older snapshot priced apart from its base name
        ("openai", "gpt-4o-2024-05-13", 5, 15),
        ("openai", "gpt-4o-2024-08-06", 2.5, 10),
        ("anthropic", "claude-3-5-sonnet-20241022", 3, 15),
        ("anthropic", "claude-3-5-haiku-20241022", 0.8, 4),
        ("anthropic", "claude-3-7-sonnet-20250219", 3, 15),
        ("anthropic", "claude-sonnet-4-20250514", 3, 15),
        ("anthropic", "claude-opus-4-1-20250805", 15, 75),
        ("groq", "meta-llama/llama-4-scout-17b-16e-instruct", 0.11, 0.34),
        ("mistral", "codestral-latest", 0.3, 0.9),
    ],
)
def test_models_common_in_real_configs_are_priced(
    provider: str, model: str, input_price: float, output_price: float
) -> None:
    price = load_prices().price_for(provider, model)
    assert price is not None, model
    assert (price.input, price.output) == (input_price, output_price)


def test_anthropic_rows_follow_the_published_multipliers() -> None:
    table = load_prices()
    for model, price in table._rows["anthropic"].items():
        assert price.cache_write_1h == pytest.approx(2 * price.input), model
        assert price.batch is not None, model
        assert price.batch.input == pytest.approx(price.input / 2), model
        assert price.batch.cache_write_1h == pytest.approx(price.cache_write_1h / 2), model


def test_tier_overrides_and_errors() -> None:
    table = load_prices({
        "openai-compatible": {"big": {
            "input": 1, "output": 2,
            "long_context": {"above": 1000, "input": 3, "output": 4},
            "batch": {"input": 0.5, "output": 1},
        }},
        # an override of one tier field keeps the rest of the shipped tier
        "openai": {"gpt-5.4": {"long_context": {"input": 6}}},
    })
    big = table.price_for("openai-compatible", "big")
    assert big is not None and big.long_context is not None and big.batch is not None
    assert cost_usd(Usage(1001, 10), big) == pytest.approx((1001 * 3 + 10 * 4) * 1e-6)
    assert big.long_context.source == "configuration"
    tier = table.price_for("openai", "gpt-5.4").long_context  # type: ignore[union-attr]
    assert tier is not None and (tier.above, tier.input, tier.output) == (272000, 6, 22.5)
    assert table.overridden == ("openai-compatible:big", "openai:gpt-5.4")
    describe = big.describe()
    assert "above 1,000 input: in $3/M" in describe and "batch: in $0.5/M" in describe
    for bad, message in [
        ({"long_context": {"input": 3, "output": 4}}, "needs above"),
        ({"long_context": {"above": "200K", "input": 3, "output": 4}}, "above must be"),
        ({"long_context": {"above": 10, "input": 3, "output": 4, "batch": {}}},
         "unknown price field(s) batch"),
        ({"above": 10}, "unknown price field(s) above"),
        ({"batch": {"batch": {"input": 1, "output": 1}}}, "unknown price field(s) batch"),
        ({"batch": [1]}, "gpt-4o.batch: expected a mapping"),
    ]:
        with pytest.raises(ConfigError) as info:
            load_prices({"openai": {"gpt-4o": {"input": 1, "output": 1, **bad}}})
        assert message in str(info.value), bad
