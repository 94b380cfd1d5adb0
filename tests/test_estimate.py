"""Pre-run estimates: token heuristic, per-call upper bound, per-target table."""

from __future__ import annotations

import pytest

from harness.calls.estimate import (
    estimate_calls,
    estimate_input_tokens,
    estimate_request_cost,
    estimate_tokens,
    format_estimate,
    judge_requests,
)
from harness.calls.pricing import load_prices
from harness.types import Message, Request, Tool


def _req(provider: str, model: str, text: str = "x" * 40, max_tokens: int = 100) -> Request:
    return Request(provider, model, (Message("user", text),), max_tokens=max_tokens)


def test_estimate_tokens_rounds_up() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_input_tokens_include_overheads_tools_and_native_schema() -> None:
    base = _req("openai", "gpt-4o-mini")
    assert estimate_input_tokens(base) == 3 + 4 + 10
    tool = Tool("f", "", {"type": "object"})
    with_tool = Request("openai", "m", base.messages, 100, tools=(tool,))
    assert estimate_input_tokens(with_tool) > estimate_input_tokens(base)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    native = Request("openai", "m", base.messages, 100, response_schema=schema,
                     structured="native")
    prompt_only = Request("openai", "m", base.messages, 100, response_schema=schema,
                          structured="json")
    assert estimate_input_tokens(native) > estimate_input_tokens(prompt_only)


def test_request_upper_bound() -> None:
    prices = load_prices()
    # 17 input tokens * 0.15 + 100 output * 0.60 = 2.55 + 60 = 62.55 per million
    assert estimate_request_cost(_req("openai", "gpt-4o-mini"), prices) == pytest.approx(
        62.55e-6
    )
    assert estimate_request_cost(_req("openai-compatible", "x"), prices) is None


def test_estimate_calls_groups_by_target() -> None:
    prices = load_prices()
    reqs = [
        _req("openai", "gpt-4o-mini"),
        _req("openai", "gpt-4o-mini", max_tokens=1000),
        ("judge", _req("anthropic", "claude-haiku-4-5")),
        _req("openai-compatible", "llama3"),
    ]
    rows = estimate_calls(reqs, prices)
    assert [r.target for r in rows] == ["openai:gpt-4o-mini", "judge",
                                        "openai-compatible:llama3"]
    mini = rows[0]
    assert (mini.calls, mini.input_tokens, mini.max_output_tokens) == (2, 34, 1100)
    assert mini.expected_output_tokens == 100 + 256
    assert mini.upper_usd == pytest.approx((34 * 0.15 + 1100 * 0.60) * 1e-6)
    assert mini.expected_usd == pytest.approx((34 * 0.15 + 356 * 0.60) * 1e-6)
    assert rows[2].unpriced and rows[2].upper_usd is None and rows[2].expected_usd is None


def test_format_estimate_table() -> None:
    rows = estimate_calls(
        [_req("openai", "gpt-4o-mini"), _req("openai-compatible", "llama3")], load_prices()
    )
    text = format_estimate(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["target", "calls", "input", "tok", "max", "out", "tok",
                                "expected", "upper", "bound"]
    assert any(line.startswith("openai:gpt-4o-mini") and "$0.0000626" in line for line in lines)
    assert any(line.startswith("openai-compatible:llama3") and "unpriced" in line
               for line in lines)
    assert any(line.startswith("total (priced targets only)") for line in lines)
    assert "no price for openai-compatible:llama3" in text


def test_format_empty() -> None:
    text = format_estimate([])
    assert "total" in text and "$0 " in text + " "


def test_judge_requests_for_rubric_assertions() -> None:
    cell = _req("openai", "gpt-4o-mini", max_tokens=100)
    specs = [
        {"type": "contains", "value": "x"},
        {"type": "llm-rubric", "value": "polite to {{ name }}", "provider": "anthropic:claude-haiku-4-5"},
        {"type": "not-llm-rubric", "value": "rude", "target": "openai:gpt-4o-mini"},
    ]
    calls = judge_requests(cell, specs, {"name": "Ann"})
    assert [t for t, _ in calls] == ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini"]
    _, req = calls[0]
    assert (req.provider, req.model, req.max_tokens) == ("anthropic", "claude-haiku-4-5", 512)
    assert "polite to Ann" in req.messages[1].content
    # the placeholder answer is as long as the cell may answer: 100 tokens * 4 chars
    assert estimate_input_tokens(req) >= 100
    rows = estimate_calls([cell, *calls], load_prices())
    assert [r.calls for r in rows] == [2, 1]


def test_judge_requests_count_graded_members_of_an_assert_set_and_rag_metrics() -> None:
    cell = _req("openai", "gpt-4o-mini", max_tokens=100)
    specs = [
        {"type": "assert-set", "assert": [
            {"type": "contains", "value": "x"},
            {"type": "factuality", "value": "f", "provider": "anthropic:claude-haiku-4-5"}]},
        {"type": "context-faithfulness", "provider": "openai:gpt-4o-mini"},
    ]
    calls = judge_requests(cell, specs, {"query": "q?", "context": ["c1", "c2"]})
    assert [t for t, _ in calls] == ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini"]
    assert "c1\n\nc2" in calls[1][1].messages[1].content


E2E_SUITE = """\
name: est
targets: [openai:gpt-4o-mini]
repeat: 2
max_tokens: 50
prompt:
  user: "Say {{ word }}"
cases:
  - {id: one, vars: {word: hi}}
  - {id: two, vars: {word: yo}}
  - {id: three, vars: {word: hey}}
"""


def test_estimate_matches_the_calls_the_run_makes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    from harness.simulator import Simulator

    pytester.makefile(".yaml", **{"evals/est": E2E_SUITE})
    with Simulator({"default": {"latency_ms": 0}}) as sim:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-sim")
        monkeypatch.setenv("OPENAI_BASE_URL", sim.base_url("openai"))
        args = ("-p", "no:cacheprovider", "--llm-report=false")
        first = pytester.runpytest(*args, "--llm-estimate")
        first.stdout.fnmatch_lines(["*6 cells, 6 calls would miss the cache; nothing was sent*",
                                    "openai:gpt-4o-mini * 6 *"])
        assert sim.request_count() == 0
        pytester.runpytest(*args).assert_outcomes(passed=6)
        assert sim.request_count() == 6
        again = pytester.runpytest(*args, "--llm-estimate")
        again.stdout.fnmatch_lines(["*6 cells, 0 calls would miss the cache*"])
        assert sim.request_count() == 6
