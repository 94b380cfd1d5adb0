"""The Engine (harness.run.engine) and RunSession without pytest.

The Engine's verdicts are pure: a cell and a call outcome in, a Result out. RunSession is
driven as the library API drives it, against the simulator, with either backend: in this
process and in the worker process, which must give the same records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.calls.cache import CacheMode
from harness.calls.runner import CallOutcome
from harness.config import Settings
from harness.errors import BudgetExceeded, CacheMiss, RateLimited, Unsupported
from harness.run.engine import Engine
from harness.run.session import RunSession
from harness.simulator import Simulator
from harness.suite.loader import load_suite
from harness.suite.model import Cell
from harness.types import Completion, Usage

pytest.importorskip("openai")

SUITE = """\
name: capitals
cases:
  - {id: fr, vars: {country: France, capital: Paris}}
  - {id: pe, vars: {country: Peru, capital: Lima}}
targets: [openai:gpt-4o-mini]
prompt: {user: "Capital of {{ country }}?"}
max_tokens: 20
assert: [{type: icontains, value: "{{ capital }}"}]
"""


def cells(tmp_path: Path) -> list[Cell]:
    path = tmp_path / "capitals.yaml"
    path.write_text(SUITE)
    return load_suite(path).cells((), None)


def engine(tmp_path: Path, **settings: Any) -> Engine:
    s = Settings(rootdir=tmp_path, cache_dir=tmp_path / "cache", **settings)

    def no_calls() -> Any:
        raise AssertionError("a verdict makes no call")

    return Engine(s, "run-1", cache=no_calls, calls=no_calls)


def answer(text: str, *, cached: bool = False) -> CallOutcome:
    completion = Completion(
        text=text, finish_reason="stop", usage=Usage(input_tokens=7, output_tokens=2),
        latency_ms=12.3456,
    )
    return CallOutcome(completion, cached=cached, cost_usd=0.0 if cached else 1e-6,
                       cost_if_live_usd=1e-6, retries=1, queue_ms=0.5)


def test_a_scored_answer_is_a_passed_or_failed_record(tmp_path: Path) -> None:
    fr, pe = cells(tmp_path)
    e = engine(tmp_path)
    passed = e.evaluate(fr, answer("Paris."), "evals/capitals.yaml::fr")
    assert passed.message is None
    data = passed.result.to_dict()
    assert (data["status"], data["passed"], data["output"]) == ("passed", True, "Paris.")
    assert (data["retries"], data["queue_ms"], data["latency_ms"]) == (1, 0.5, 12.346)
    assert (data["input_tokens"], data["output_tokens"], data["cost_usd"]) == (7, 2, 1e-6)
    assert data["nodeid"] == "evals/capitals.yaml::fr" and data["run_id"] == "run-1"
    assert data["prompt"] == [{"role": "user", "content": "Capital of France?"}]
    assert data["vars"] == {"country": "France", "capital": "Paris"}
    assert [s["name"] for s in data["scores"]] == ["icontains"]
    failed = e.evaluate(pe, answer("Cusco.", cached=True))
    assert failed.result.status == "failed" and failed.result.cached is True
    assert failed.message is not None and "output: 'Cusco.'" in failed.message
    # The rendered request is dropped once the cell has its result.
    assert fr._messages is None and fr._test_fingerprint is None


@pytest.mark.parametrize(
    ("error", "status", "kind", "message"),
    [
        # Not the prompt's fault: recorded as skipped, never as an error.
        (BudgetExceeded("budget of $0.01 reached"), "skipped", "BudgetExceeded", None),
        (Unsupported("temperature is not supported"), "skipped", "unsupported", None),
        (CacheMiss("not in the cache"), "error", "cache_miss", "not run: not in the cache"),
        (RateLimited("429 from provider"), "error", "rate_limited", "call failed: 429"),
    ],
)
def test_an_outcome_without_an_answer_has_one_status(
    tmp_path: Path, error: Any, status: str, kind: str, message: str | None
) -> None:
    fr, _ = cells(tmp_path)
    evaluated = engine(tmp_path).evaluate(fr, CallOutcome(error=error))
    data = evaluated.result.to_dict()
    assert data["status"] == status and data["passed"] is False
    assert data["error_kind"] == kind
    if status == "skipped":
        assert data["skip_reason"] == str(error) and data["error"] is None
        assert evaluated.message is None
    else:
        assert data["error"] == str(error) and data["skip_reason"] is None
        assert evaluated.message is not None and evaluated.message.startswith(message or "")


def test_a_missing_key_is_a_skip_naming_it_except_what_replay_can_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fr, _ = cells(tmp_path)
    assert engine(tmp_path).skip_reason(fr) == (
        "openai:gpt-4o-mini: OPENAI_API_KEY is not set; set it to run this target"
    )
    session = RunSession(
        Settings(rootdir=tmp_path, cache_dir=tmp_path / "cache", cache=CacheMode.REPLAY),
        write=False,
    )
    try:
        assert session.skip_reason(fr) == (
            "openai:gpt-4o-mini: not in the cache and OPENAI_API_KEY is not set"
        )
    finally:
        session.close()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert engine(tmp_path).skip_reason(fr) is None


# -- RunSession, both backends -----------------------------------------------------------


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    config = {"default": {"latency_ms": 2, "canned": {"France": "Paris.", "Peru": "Cusco."}}}
    with Simulator(config) as simulator:
        monkeypatch.setenv("OPENAI_BASE_URL", simulator.base_url("openai"))
        monkeypatch.setenv("OPENAI_API_KEY", "sk-sim")
        yield simulator


def run_session(tmp_path: Path, out: str, worker: str) -> tuple[RunSession, list[str]]:
    """Run the two cells as the library API does; returns the session (closed) and the
    lines of its results.jsonl as they stood after each record()."""
    settings = Settings(
        rootdir=tmp_path, cache_dir=tmp_path / "cache", out=tmp_path / out, worker=worker
    )
    session = RunSession(settings)
    on_disk = []
    try:
        found = cells(tmp_path)
        session.note_cells(found)
        session.prefetch((c, c.case.id) for c in found)
        for cell in found:
            evaluated = session.evaluate(cell, cell.case.id)
            session.record(evaluated.result, evaluated.line)
            # On disk as soon as it is recorded: nothing waits for a batch or a sync.
            on_disk.append((tmp_path / out / "results.jsonl").read_text())
        meta = session.meta()
    finally:
        session.close()
    assert meta["worker"] is (worker == "on")
    return session, on_disk


@pytest.mark.parametrize("worker", ["off", "on"])
def test_a_session_records_each_cell_at_once_with_either_backend(
    tmp_path: Path, sim: Simulator, worker: str
) -> None:
    live, on_disk = run_session(tmp_path, "live", worker)
    assert [len(text.splitlines()) for text in on_disk] == [1, 2]
    rows = [json.loads(line) for line in on_disk[-1].splitlines()]
    assert [(r["case_id"], r["status"], r["cached"]) for r in rows] == [
        ("fr", "passed", False), ("pe", "failed", False)
    ]
    assert [r.status for r in live.results] == ["passed", "failed"]
    assert sim.request_count() == 2
    # A cached rerun: the worker scores replayed answers itself and sends the lines back.
    _, on_disk = run_session(tmp_path, "replayed", worker)
    replayed = [json.loads(line) for line in on_disk[-1].splitlines()]
    assert sim.request_count() == 2
    assert [(r["case_id"], r["status"], r["cached"]) for r in replayed] == [
        ("fr", "passed", True), ("pe", "failed", True)
    ]
    assert [r["output"] for r in replayed] == [r["output"] for r in rows]
    assert [r["cost_if_live_usd"] for r in replayed] == [r["cost_usd"] for r in rows]


# -- what --llm-cache means ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "reads", "writes", "offline", "uses_folder"),
    [
        ("use", True, True, False, True),
        ("refresh", False, True, False, True),
        ("replay", True, False, True, True),
        ("off", False, False, False, False),
    ],
)
def test_each_cache_mode_says_what_it_does(
    tmp_path: Path, mode: str, reads: bool, writes: bool, offline: bool, uses_folder: bool
) -> None:
    m = CacheMode.parse(mode.upper())
    assert (m.reads, m.writes, m.offline, m.uses_folder) == (reads, writes, offline, uses_folder)
    # Every call is live when the cache is not read; when it is, only while it is empty
    # (and never in replay, which makes no call at all).
    assert m.surely_misses(tmp_path) is (not reads or mode == "use")
    from harness.calls.cache import ResponseCache

    ResponseCache(tmp_path, CacheMode.USE).close()  # now the folder holds a cache
    assert m.surely_misses(tmp_path) is (not reads)


def test_an_ad_hoc_call_that_fails_is_recorded_then_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from harness.api import CellClient
    from harness.errors import ProviderError
    from harness.suite.targets import parse_target

    with socket.socket() as s:  # a port nothing listens on: the call is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    settings = Settings(
        rootdir=tmp_path, cache_dir=tmp_path / "cache", out=tmp_path / "run", max_retries=0
    )
    session = RunSession(settings)
    try:
        client = CellClient(session, parse_target("openai:gpt-4o-mini"), 0.0, 0, "t::x")
        with pytest.raises(ProviderError) as raised:
            client.complete("Capital of France?", max_tokens=20)
    finally:
        session.close()
    (row,) = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert (row["suite"], row["case_id"], row["status"]) == ("pytest", "t::x", "error")
    assert row["error"] == str(raised.value)
    assert row["error_kind"] == raised.value.kind and row["output"] is None
