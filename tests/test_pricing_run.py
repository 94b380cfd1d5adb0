"""Pricing through a whole run: the real SDKs against the simulator, the plugin, the cache.

- Anthropic's 1-hour cache writes (``usage.cache_creation``) are billed at the 1-hour price;
- an answer recorded while its model was unpriced gets a cost when it is replayed after a
  price row is added with ``--llm-prices``, and meta.json says what priced the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.simulator import Simulator

pytest.importorskip("openai")
pytest.importorskip("anthropic")

SUITE = """\
name: pricing
targets: [openai:gpt-in-house-ft, anthropic:claude-haiku-4-5]
temperatures: [null]
max_tokens: 50
prompt:
  user: "Repeat after me: {{ text }}"
cases:
  - id: one
    vars: {text: "alpha beta gamma delta epsilon zeta eta theta iota kappa"}
  - id: two
    vars: {text: "one two three four five six seven eight nine ten eleven twelve"}
"""

SIM_CONFIG: dict[str, Any] = {
    "seed": 1,
    "require_key": "sk-sim",
    "default": {"latency_ms": 0, "answer": "echo"},
    # every Anthropic cache write is a 1-hour write
    "models": {
        "claude-*": {
            "latency_ms": 0,
            "answer": "echo",
            "cached_share": 0.25,
            "cache_write_share": 0.5,
            "cache_write_1h_share": 1.0,
        }
    },
}


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(SIM_CONFIG) as simulator:
        for provider in ("openai", "anthropic"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", simulator.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        yield simulator


def _run(pytester: pytest.Pytester, out: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "evals", f"--llm-out={out}", "-p", "no:cacheprovider", "--llm-report=false", *args
    )


def _records(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {f"{r['target']}/{r['case_id']}": r for r in map(json.loads, lines)}


def test_one_hour_writes_and_a_price_added_later(pytester: pytest.Pytester, sim: Simulator) -> None:
    pytester.makefile(".yaml", **{"evals/pricing": SUITE})
    first = pytester.path / "first"
    _run(pytester, first).assert_outcomes(passed=4)
    live = _records(first)
    assert sim.request_count() == 4

    for case in ("one", "two"):
        r = live[f"anthropic:claude-haiku-4-5/{case}"]
        writes, one_hour = r["cache_write_tokens"], r["cache_write_1h_tokens"]
        assert writes > 0 and one_hour == writes
        uncached = r["input_tokens"] - r["cached_input_tokens"] - writes
        # claude-haiku-4-5: input $1, cache read $0.10, 1-hour write $2, output $5 per M
        expected = (
            uncached * 1.0 + r["cached_input_tokens"] * 0.10 + one_hour * 2.0
            + r["output_tokens"] * 5.0
        ) / 1e6
        assert r["cost_usd"] == pytest.approx(expected)
        # billed as 5-minute writes ($1.25) it would have been lower: the old figure
        low = expected - one_hour * (2.0 - 1.25) / 1e6
        assert r["cost_usd"] > low * 1.01

        unpriced = live[f"openai:gpt-in-house-ft/{case}"]
        assert unpriced["cost_usd"] is None and unpriced["cost_if_live_usd"] is None
    meta = json.loads((first / "meta.json").read_text())
    assert meta["price_table_date"] and meta["price_overrides"] == []

    # A price row for the in-house model, added after its answers were cached.
    prices = pytester.path / "prices.yaml"
    prices.write_text("openai:\n  gpt-in-house-ft: {input: 2.0, output: 8.0, source: contract}\n")
    second = pytester.path / "second"
    _run(pytester, second, "--llm-cache=replay", f"--llm-prices={prices}").assert_outcomes(
        passed=4
    )
    assert sim.request_count() == 4  # nothing sent: every answer is a replay
    replayed = _records(second)
    for case in ("one", "two"):
        r = replayed[f"openai:gpt-in-house-ft/{case}"]
        assert r["cached"] is True and r["cost_usd"] == 0.0
        assert r["input_tokens"] == live[f"openai:gpt-in-house-ft/{case}"]["input_tokens"]
        assert r["cost_if_live_usd"] == pytest.approx(
            (r["input_tokens"] * 2.0 + r["output_tokens"] * 8.0) / 1e6
        )
        claude = replayed[f"anthropic:claude-haiku-4-5/{case}"]
        live_claude = live[f"anthropic:claude-haiku-4-5/{case}"]
        assert claude["cost_if_live_usd"] == pytest.approx(live_claude["cost_usd"])
    meta = json.loads((second / "meta.json").read_text())
    assert meta["price_overrides"] == ["openai:gpt-in-house-ft"]
    # the summary, unpriced for the in-house model after the first run, now has its total
    before = {g["target"]: g for g in json.loads((first / "summary.json").read_text())}
    after = {g["target"]: g for g in json.loads((second / "summary.json").read_text())}
    assert before["openai:gpt-in-house-ft"]["unpriced"] is True
    in_house = after["openai:gpt-in-house-ft"]
    assert in_house["unpriced"] is False
    assert in_house["cost_if_live_usd"] == pytest.approx(
        sum(replayed[f"openai:gpt-in-house-ft/{c}"]["cost_if_live_usd"] for c in ("one", "two"))
    )
