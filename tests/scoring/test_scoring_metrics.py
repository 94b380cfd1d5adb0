"""latency and cost scorers, live and replayed from the cache."""

from __future__ import annotations

from typing import Any

import pytest

from harness.scoring import ScoreContext, validate_assertion
from harness.scoring.base import run_one


def run(ctx: ScoreContext, **spec: Any):
    problem = validate_assertion(spec)
    assert problem is None, problem
    return run_one(ctx, spec)


def test_latency_total_and_ttft() -> None:
    ctx = ScoreContext(output="", latency_ms=800.0, ttft_ms=120.0)
    s = run(ctx, type="latency", max_ms=1000)
    assert s.passed and s.value == 800.0 and "800 ms vs max 1000 ms" in s.reason
    assert not run(ctx, type="latency", max_ms=500).passed
    assert run(ctx, type="latency", max_ttft_ms=200).passed
    s = run(ctx, type="latency", max_ms=1000, max_ttft_ms=100)
    assert not s.passed and "TTFT 120 ms vs max 100 ms" in s.reason


def test_latency_without_ttft_says_why() -> None:
    ctx = ScoreContext(output="", latency_ms=800.0, ttft_ms=None)
    s = run(ctx, type="latency", max_ttft_ms=200)
    assert not s.passed and "streaming" in s.reason


def test_cached_results_judge_original_figures_and_say_so() -> None:
    ctx = ScoreContext(output="", cached=True, latency_ms=2500.0, cost_usd=0.002)
    s = run(ctx, type="latency", max_ms=1000)
    assert not s.passed and "replayed from the cache" in s.reason
    c = run(ctx, type="cost", max_usd=0.001)
    assert not c.passed and c.value == 0.002 and "replayed from the cache" in c.reason
    live = run(ScoreContext(output="", latency_ms=10.0), type="latency", max_ms=1000)
    assert "cache" not in live.reason


def test_cost() -> None:
    assert run(ScoreContext(output="", cost_usd=0.0004), type="cost", max_usd=0.001).passed
    assert not run(ScoreContext(output="", cost_usd=0.004), type="cost", max_usd=0.001).passed
    s = run(ScoreContext(output="", cost_usd=None), type="cost", max_usd=1)
    assert not s.passed and "cost unknown" in s.reason


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "latency"}, "needs 'max_ms'"),
        ({"type": "latency", "max_ms": "fast"}, "must be a number"),
        ({"type": "latency", "max_ttft_ms": -5}, "must be a number"),
        ({"type": "cost"}, "needs 'max_usd'"),
        ({"type": "cost", "max_usd": True}, "must be a number"),
    ],
)
def test_validation(spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion(spec)
    assert got is not None and problem in got
