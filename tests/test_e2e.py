"""End to end: a suite through the plugin, the runner, the real SDKs and the simulator.

These are the spine's acceptance checks: the reference suite across four providers, a cached
rerun that sends nothing, xdist parity, replay misses, missing keys, injected faults and the
estimate matching the calls a run then makes.
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
pytest.importorskip("groq")
pytest.importorskip("mistralai")

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["vendor", "total", "currency"],
    "properties": {
        "vendor": {"type": "string"},
        "total": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
    },
    "additionalProperties": False,
}

# The reference suite from the spine issue, as written (plus native structured output so the
# simulator sees the schema and answers with JSON that follows it).
SUITE = """\
name: invoice-extraction
targets: [openai:gpt-4o-mini, anthropic:claude-haiku-4-5, groq:llama-3.1-8b-instant, mistral:mistral-small-latest]
temperatures: [0.0, 0.7]
repeat: 2
max_tokens: 300
timeout_s: 30
structured: native
prompt:
  system: You extract invoice fields as JSON.
  user: "Invoice text: {{ text }}"
schema: ../datasets/invoice.schema.json
dataset: ../datasets/invoices.jsonl
assert:
  - type: schema-valid
  - type: latency
    max_ms: 5000
cases:
  - id: acme-1
    vars: {text: "ACME Corp invoice #42, total 99.50 EUR"}
    assert:
      - {type: contains, value: ACME}
"""

DATASET = [
    {"id": "globex-7", "vars": {"text": "Globex invoice 7: 12.00 USD"}},
    {"id": "initech-3", "vars": {"text": "Initech bill #3, amount due 310 GBP"}},
]

SIM_CONFIG: dict[str, Any] = {
    "seed": 3,
    "require_key": "sk-sim",
    "default": {
        "latency_ms": 5,
        "canned": {"ACME": {"vendor": "ACME Corp", "total": 99.5, "currency": "EUR"}},
    },
}

KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY")
PROVIDERS = ("openai", "anthropic", "groq", "mistral")
CELLS = 3 * 4 * 2 * 2  # cases x targets x temperatures x repeats
# Anthropic's current API rejects temperature: its 12 cells are recorded as unsupported.
LIVE_CALLS = 3 * 3 * 2 * 2


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(SIM_CONFIG) as simulator:
        for provider in PROVIDERS:
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", simulator.base_url(provider))
        for key in KEYS:
            monkeypatch.setenv(key, "sk-sim")
        yield simulator


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"evals/invoices": SUITE})
    data = pytester.path / "datasets"
    data.mkdir(exist_ok=True)
    (data / "invoice.schema.json").write_text(json.dumps(SCHEMA))
    (data / "invoices.jsonl").write_text("\n".join(json.dumps(row) for row in DATASET) + "\n")
    return pytester


def results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def run(pytester: pytest.Pytester, out: Path, *args: str, report: bool = False) -> pytest.RunResult:
    # The report has tests of its own; skipping it here keeps each run about a second shorter.
    return pytester.runpytest_subprocess(
        "evals", f"--llm-out={out}", "-p", "no:cacheprovider", f"--llm-report={report}", *args
    )


def test_reference_suite_runs_on_four_providers(project: pytest.Pytester, sim: Simulator) -> None:
    out = project.path / "run1"
    result = run(project, out, report=True)
    result.assert_outcomes(passed=LIVE_CALLS, skipped=CELLS - LIVE_CALLS)
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()
    records = results(out)
    assert len(records) == CELLS
    assert sim.request_count() == LIVE_CALLS
    ids = {r["nodeid"] for r in records}
    assert "evals/invoices.yaml::acme-1[openai:gpt-4o-mini-t0.7-r1]" in ids
    for r in records:
        if r["provider"] == "anthropic":
            assert r["status"] == "skipped" and "temperature" in r["skip_reason"]
            continue
        assert r["status"] == "passed", r
        assert r["schema_valid"] is True
        assert r["cached"] is False and r["retries"] == 0
        assert r["latency_ms"] > 0 and r["input_tokens"] > 0 and r["output_tokens"] > 0
        # The simulator reports its scripted 5 ms as the provider's own time; the client's
        # loop stall inside the call is a measured number, never missing on a live answer.
        assert r["provider_ms"] >= 5 and r["stall_ms"] >= 0
        # Every target is priced in the shipped table, so a live call has a real cost.
        assert r["cost_usd"] > 0 and r["cost_usd"] == r["cost_if_live_usd"]
    acme = [r for r in records if r["case_id"] == "acme-1" and r["status"] == "passed"]
    assert all(json.loads(r["output"])["vendor"] == "ACME Corp" for r in acme)
    summary = json.loads((out / "summary.json").read_text())
    assert {(g["target"], g["temperature"]) for g in summary} == {
        (t, temp)
        for t in (
            "openai:gpt-4o-mini",
            "anthropic:claude-haiku-4-5",
            "groq:llama-3.1-8b-instant",
            "mistral:mistral-small-latest",
        )
        for temp in (0.0, 0.7)
    }
    result.stdout.fnmatch_lines(["*llm-harness summary*", "*openai:gpt-4o-mini*"])


def test_cached_rerun_sends_nothing_and_keeps_original_cost(
    project: pytest.Pytester, sim: Simulator
) -> None:
    first_out, second_out = project.path / "run1", project.path / "run2"
    run(project, first_out).assert_outcomes(passed=LIVE_CALLS, skipped=CELLS - LIVE_CALLS)
    sent = sim.request_count()
    run(project, second_out).assert_outcomes(passed=LIVE_CALLS, skipped=CELLS - LIVE_CALLS)
    assert sim.request_count() == sent
    live = {r["nodeid"]: r for r in results(first_out) if r["status"] == "passed"}
    replayed = [r for r in results(second_out) if r["status"] == "passed"]
    assert len(replayed) == LIVE_CALLS
    for r in replayed:
        assert r["cached"] is True and r["cost_usd"] == 0
        assert r["cost_if_live_usd"] == live[r["nodeid"]]["cost_usd"]
        # Replays judge the original live latency, never a near-zero lookup time.
        assert r["latency_ms"] == live[r["nodeid"]]["latency_ms"]


def test_xdist_sends_each_call_once_and_the_controller_gets_every_result(
    project: pytest.Pytester, sim: Simulator
) -> None:
    out = project.path / "run"
    run(project, out, "-n", "2").assert_outcomes(passed=LIVE_CALLS, skipped=CELLS - LIVE_CALLS)
    assert sim.request_count() == LIVE_CALLS
    records = results(out)
    assert len(records) == CELLS
    assert len({r["nodeid"] for r in records}) == CELLS
    # The same cells run serially and live again, against a simulator whose answers depend
    # only on the request and how often it was seen, give the same records. Repeats send
    # identical requests, so which repeat got which sample may differ: compare per cell.
    sim.reset()
    serial = project.path / "serial"
    run(project, serial, "--llm-cache=off")
    assert sim.request_count() == LIVE_CALLS

    def outcomes(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[tuple[Any, ...]]]:
        cells: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        for r in rows:
            key = (r["case_id"], r["target"], r["temperature"])
            out = (r["status"], r["output"], r["schema_valid"], r["input_tokens"], r["cost_usd"])
            cells.setdefault(key, []).append(out)
        return {k: sorted(v, key=repr) for k, v in cells.items()}

    assert outcomes(results(serial)) == outcomes(records)


def test_replay_mode_fails_a_miss_without_calling(project: pytest.Pytester, sim: Simulator) -> None:
    out = project.path / "run"
    result = run(project, out, "--llm-cache=replay", "-k", "openai")
    result.assert_outcomes(failed=3 * 2 * 2)
    assert sim.request_count() == 0
    result.stdout.fnmatch_lines(["*not in the cache*--llm-cache=use*"])


def test_replay_without_a_key_skips_what_was_never_recorded(
    project: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project.path / "run"
    run(project, out, "-k", "openai").assert_outcomes(passed=12)
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("GROQ_API_KEY")
    result = run(project, out, "--llm-cache=replay", "-k", "openai or groq", "-rs")
    # Recorded answers replay with no key; a keyless target with nothing recorded is skipped.
    result.assert_outcomes(passed=12, skipped=12)
    result.stdout.fnmatch_lines(
        ["*groq:llama-3.1-8b-instant: not in the cache and GROQ_API_KEY is not set*"]
    )
    assert sim.request_count() == 12


def test_missing_key_skips_with_the_variable_to_set(
    project: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROQ_API_KEY")
    out = project.path / "run"
    result = run(project, out, "-k", "groq", "-rs")
    result.assert_outcomes(skipped=12)
    result.stdout.fnmatch_lines(["*GROQ_API_KEY*"])
    assert sim.request_count() == 0


def test_wrong_key_stops_calls_to_that_provider(
    project: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-wrong")
    out = project.path / "run"
    result = run(project, out, "-k", "mistral", "--llm-concurrency=1")
    result.assert_outcomes(failed=12)
    # One call learns the key is wrong; the other cells are not sent.
    assert sim.request_count(route="mistral") == 1
    text = (out / "results.jsonl").read_text()
    assert "sk-wrong" not in text and "sk-sim" not in text


def test_injected_faults_end_every_cell_scored_or_errored(
    project: pytest.Pytester, sim: Simulator
) -> None:
    sim.configure(
        {
            **SIM_CONFIG,
            "retry_after_s": 0.01,
            "hang_s": 3,
            "default": {
                **SIM_CONFIG["default"],
                "faults": {"rate_limit": 0.08, "server_error": 0.08, "malformed": 0.04},
            },
        }
    )
    out = project.path / "run"
    run(project, out, "-k", "not anthropic", "--llm-retry-time=5")
    records = results(out)
    assert len(records) == LIVE_CALLS
    for r in records:
        assert r["status"] in ("passed", "failed", "error"), r
        if r["status"] == "error":
            assert r["error"] and r["error_kind"]
            assert r["cost_usd"] is None or r["cost_usd"] == 0
    assert sum(r["retries"] for r in records) > 0
    # No cost counted twice: each answered cell costs what its own usage says.
    summary = json.loads((out / "summary.json").read_text())
    assert sum(g["cost_usd"] for g in summary) == pytest.approx(
        sum(r["cost_usd"] or 0 for r in records)
    )


def test_estimate_counts_the_calls_the_run_then_makes(
    project: pytest.Pytester, sim: Simulator
) -> None:
    out = project.path / "run"
    estimate = run(project, out, "--llm-estimate")
    assert sim.request_count() == 0
    estimate.stdout.fnmatch_lines(
        [f"*{CELLS} cells, {LIVE_CALLS} calls would miss the cache, 12 would not be sent*"]
    )
    run(project, out).assert_outcomes(passed=LIVE_CALLS, skipped=CELLS - LIVE_CALLS)
    assert sim.request_count() == LIVE_CALLS
