"""The words a run prints say what happened: a failing plain test is not recorded as passed,
a target skipped at one temperature is not "not run", skipped calls are not errors, the gate
never prints Python's None, and failure grouping keeps what the model said."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.gate import GateSettings, baseline_from_results, compare, render_markdown, render_text
from harness.report.views import failure_groups, reason_key
from harness.results.stats import summarize
from harness.run.finish import summary_text
from harness.simulator import Simulator
from harness.types import Result

sys.path.insert(0, str(Path(__file__).parent / "gate"))
from gate_helpers import cell

FAILING_PLAIN_TEST = """\
import pytest

@pytest.mark.llm(targets=["openai:gpt-4o-mini"], temperatures=[0.0])
def test_capital(llm):
    response = llm.complete("Capital of France?", max_tokens=20)
    assert "Lyon" in response.text, "expected Lyon"
"""


def test_a_failing_plain_test_records_its_calls_as_failed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    with Simulator({"default": {"latency_ms": 1, "canned_default": "Paris."}}) as sim:
        monkeypatch.setenv("OPENAI_BASE_URL", sim.base_url("openai"))
        monkeypatch.setenv("OPENAI_API_KEY", "sk-sim")
        pytester.makepyfile(test_plain=FAILING_PLAIN_TEST)
        result = pytester.runpytest_subprocess("--llm-out=run", "--llm-report=false")
    result.assert_outcomes(failed=1)
    (record,) = [json.loads(x) for x in (pytester.path / "run/results.jsonl").read_text().splitlines()]
    assert record["status"] == "failed" and record["passed"] is False
    assert record["scores"][-1]["name"] == "test"
    assert "expected Lyon" in record["scores"][-1]["reason"]
    (group,) = json.loads((pytester.path / "run/summary.json").read_text())
    assert group["pass_rate"] == 0.0


def _result(target: str, temperature: float | None, status: str) -> Result:
    provider, _, model = target.partition(":")
    return Result(
        run_id="r", suite="s", case_id="c", target=target, provider=provider, model=model,
        temperature=temperature, repeat=0, status=status, passed=status == "passed",  # type: ignore[arg-type]
        latency_ms=100.0, cost_usd=0.001, cost_if_live_usd=0.001,
    )


def test_a_target_skipped_at_one_temperature_is_not_called_not_run() -> None:
    claude = "anthropic:claude-haiku-4-5"
    results = [
        _result(claude, 0.0, "skipped"),
        _result(claude, 0.0, "skipped"),
        _result(claude, None, "passed"),
        _result("groq:llama-3.1-8b-instant", 0.0, "skipped"),
    ]
    lines = summary_text(summarize(results)).splitlines()
    assert lines[-1] == "not run, every cell skipped (reasons above): groq:llama-3.1-8b-instant (1)"
    rows = [line.split() for line in lines[2:-1]]
    # Both of Claude's groups stay in the table, the skipped one saying so.
    assert [(r[1], r[2], r[-1]) for r in rows] == [(claude, "0", "2"), (claude, "default", "0")]


def test_the_progress_line_counts_refused_calls_as_skipped_not_errors(tmp_path: Path) -> None:
    from harness.calls.cache import CacheMode, ResponseCache
    from harness.calls.runner import Runner, RunnerSettings
    from harness.suite.targets import parse_target
    from harness.types import Message, Request

    pytest.importorskip("anthropic")
    target = parse_target("anthropic:claude-haiku-4-5")
    request = Request(
        provider="anthropic", model="claude-haiku-4-5", messages=(Message("user", "hi"),),
        max_tokens=10, timeout_s=5, temperature=0.0,
    )
    with Simulator() as sim, pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANTHROPIC_BASE_URL", sim.base_url("anthropic"))
        mp.setenv("ANTHROPIC_API_KEY", "sk-sim")
        runner = Runner(RunnerSettings(), ResponseCache(tmp_path / "cache", CacheMode.USE))
        try:
            outcome = runner.run(target, request)
        finally:
            runner.close()
    assert outcome.error is not None and "temperature" in str(outcome.error)
    p = runner.progress
    assert (p.errors, p.skipped) == (0, 1)
    assert "0 errors, 1 skipped" in p.line()


def test_the_gate_never_prints_none() -> None:
    # Schema checks in the baseline, none in this run: a row with no cases to count.
    before = [cell(f"c{i}", True, schema_valid=True) for i in range(6)]
    after = [cell(f"c{i}", True) for i in range(6)]
    comparison = compare(baseline_from_results(before, source="b.json"), after, GateSettings())
    text = render_text(comparison) + render_markdown(comparison)
    assert "None" not in text
    assert "k=0 cases (0/0 samples)" in text  # the schema row says what it had


def test_failure_grouping_keeps_the_models_quoted_words() -> None:
    assert reason_key("expected '1,250.00' to equal '1250'") == "expected '1,250.00' to equal '1250'"
    assert reason_key('latency 1,834 ms > max 1500 ms') == "latency N ms > max N ms"
    failed = _result("openai:gpt-4o-mini", 0.0, "failed")
    failed.scores = [{"name": "equals", "passed": False, "reason": "output '1,250.00' != '1250'"}]
    (group,) = failure_groups([failed])
    assert group.reason == "output '1,250.00' != '1250'"
