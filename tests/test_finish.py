"""The terminal summary table: honest costs (never a small cost shown as 0, unpriced named)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.config import Settings
from harness.results.stats import summarize
from harness.run.finish import finish_run, summary_text
from harness.run.session import RunSession
from harness.types import Result


def result(target: str, *, cached: bool = False, cost: float | None = 0.00002) -> Result:
    return Result(
        run_id="r",
        suite="s",
        case_id="c",
        target=target,
        provider=target.split(":")[0],
        model=target.split(":")[1],
        temperature=0.0,
        repeat=0,
        status="passed",
        passed=True,
        latency_ms=120.0,
        cost_usd=0.0 if cached else cost,
        cost_if_live_usd=cost,
        cached=cached,
    )


def test_summary_shows_replayed_cells_at_zero_with_their_live_price() -> None:
    text = summary_text(summarize([result("openai:gpt-4o-mini", cached=True)] * 2))
    header, _, row = text.splitlines()
    assert header.split()[-6:] == ["$", "if", "live", "$", "replayed", "errors", "skipped"][-6:]
    # cost $ this run, if live $, replayed, errors, skipped
    assert row.split()[-5:] == ["0", "0.0000400", "2", "0", "0"]


def test_summary_names_unpriced_targets() -> None:
    text = summary_text(summarize([result("openai:my-finetune", cost=None)]))
    assert "unpriced" in text.splitlines()[-1]


def test_prompt_column_appears_only_when_a_suite_has_variants() -> None:
    plain = summary_text(summarize([result("openai:gpt-4o-mini")]))
    assert plain.splitlines()[0].split()[:2] == ["suite", "target"]
    v1, v2 = result("openai:gpt-4o-mini"), result("openai:gpt-4o-mini")
    v1.prompt_id, v2.prompt_id = "v1", "v2"
    v2.passed, v2.status = False, "failed"
    lines = summary_text(summarize([v1, v2])).splitlines()
    assert lines[0].split()[:3] == ["suite", "prompt", "target"]
    assert [line.split()[:5] for line in lines[2:4]] == [
        ["s", "v1", "openai:gpt-4o-mini", "0", "1"],
        ["s", "v2", "openai:gpt-4o-mini", "0", "1"],
    ]
    assert lines[2].split()[5] == "100%" and lines[3].split()[5] == "0%"


def test_targets_that_did_not_run_get_one_line_not_rows_of_dashes() -> None:
    skipped = result("groq:llama-3.1-8b-instant")
    skipped.status, skipped.passed = "skipped", False
    text = summary_text(summarize([result("openai:gpt-4o-mini"), skipped, skipped]))
    lines = text.splitlines()
    assert len(lines) == 4  # header, rule, the openai row, the not-run line
    assert lines[-1] == "not run, every cell skipped (reasons above): groq:llama-3.1-8b-instant (2)"


def test_a_busy_calling_process_is_named_beside_the_latencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = RunSession(Settings(rootdir=tmp_path), write=False)
    session.record(result("openai:gpt-4o-mini"))
    lag = {"p50": 30.0, "p95": 80.0, "max": 200.0, "samples": 40}
    monkeypatch.setattr(session, "runner_loop_lag", lambda: lag)
    text = "\n".join(body for _, body in finish_run(session).sections)
    assert "event-loop lag p50 30 ms, p95 80 ms" in text
    monkeypatch.setattr(session, "runner_loop_lag", lambda: {**lag, "p95": 5.0, "max": 30.0,
                                                             "largest_stall_ms": 30.0})
    text = "\n".join(body for _, body in finish_run(session).sections)
    assert "event-loop lag" not in text


def test_one_long_stall_is_reported_though_the_percentiles_are_low(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = RunSession(Settings(rootdir=tmp_path), write=False)
    stalled = result("openai:gpt-4o-mini")
    stalled.stall_ms = 1900.0
    session.record(stalled)
    session.record(result("openai:gpt-4o-mini"))
    lag = {"p50": 1.0, "p95": 3.0, "max": 1900.0, "samples": 400, "largest_stall_ms": 1905.0}
    monkeypatch.setattr(session, "runner_loop_lag", lambda: lag)
    text = "\n".join(body for _, body in finish_run(session).sections)
    assert "largest stall 1905 ms" in text
    assert "1 calls overlapped a stall" in text


def _written_session(tmp_path: Path) -> RunSession:
    session = RunSession(Settings(rootdir=tmp_path, out=tmp_path / "run"))
    for target in ("openai:gpt-4o-mini", "anthropic:claude-3-5-haiku"):
        session.record(result(target))
    return session


def test_the_end_of_run_frees_the_calls_before_the_exports_and_writes_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.run import export_child

    session = _written_session(tmp_path)
    events: list[str] = []
    end_calls, start_export = session.end_calls, export_child.start_export

    def ended() -> None:
        events.append("calls ended")
        end_calls()

    def started(out_dir: Path) -> export_child.ExportProcess:
        events.append("export started")
        assert not (out_dir / "report.html").exists()  # the exports come first, alone
        return start_export(out_dir)

    monkeypatch.setattr(session, "end_calls", ended)
    monkeypatch.setattr(export_child, "start_export", started)
    outcome = finish_run(session)
    assert events == ["calls ended", "export started"]
    assert set(outcome.files) == {"summary.json", "meta.json", "report.html", "summary.md",
                                  "results.csv", "results.parquet"}
    assert all(path.is_file() for path in outcome.files.values())


def test_the_exports_child_is_waited_for_before_a_chart_is_drawn_not_before_a_kept_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # matplotlib's memory must not add to the child's; a report whose charts all come from
    # the chart cache needs no matplotlib, so it is written while the child still works.
    import functools

    from harness.report import charts
    from harness.run import export_child

    events: list[str] = []
    real_wait = export_child.ExportProcess.wait

    def waited(self: export_child.ExportProcess, timeout: float | None = None) -> object:
        report_written = (self.out_dir / "report.html").exists()
        events.append("exports waited" + (", report written" if report_written else ""))
        return real_wait(self, timeout)

    real_chart = charts.latency_distribution

    def drawing(data: object) -> str | None:
        events.append("chart drawn")
        return real_chart(data)

    monkeypatch.setattr(export_child.ExportProcess, "wait", waited)
    monkeypatch.setattr(charts, "latency_distribution", functools.wraps(real_chart)(drawing))
    first = finish_run(_written_session(tmp_path))
    assert events == ["exports waited", "chart drawn"]
    events.clear()
    rerun = RunSession(Settings(rootdir=tmp_path, out=tmp_path / "rerun"))
    for target in ("openai:gpt-4o-mini", "anthropic:claude-3-5-haiku"):
        rerun.record(result(target))
    second = finish_run(rerun)
    assert events == ["exports waited, report written"]
    for outcome in (first, second):
        assert {"report.html", "results.csv", "results.parquet"} <= set(outcome.files)
        assert all(path.is_file() for path in outcome.files.values())


def test_a_run_with_a_paged_report_waits_for_the_exports_before_building_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past pages.SPLIT_OVER cells the report's details take this process tens of megabytes,
    # the child ~70 MB: one after the other, not both at once.
    from harness.report import pages
    from harness.run import export_child

    events: list[str] = []
    real_wait, real_split = export_child.ExportProcess.wait, pages.split_records

    def waited(self: export_child.ExportProcess, timeout: float | None = None) -> object:
        events.append("exports waited")
        return real_wait(self, timeout)

    def splitting(*args: Any, **kwargs: Any) -> pages.Split:
        events.append("pages built")
        return real_split(*args, **kwargs)

    monkeypatch.setattr(export_child.ExportProcess, "wait", waited)
    monkeypatch.setattr(pages, "split_records", splitting)
    monkeypatch.setattr(pages, "SPLIT_OVER", 1)
    outcome = finish_run(_written_session(tmp_path))
    assert events == ["exports waited", "pages built"]
    assert {"report.html", "results.csv", "results.parquet"} <= set(outcome.files)


def test_a_failed_export_costs_neither_the_report_nor_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.run import export_child

    session = _written_session(tmp_path)
    # The child is pointed at a folder with no results.jsonl, so it fails for real.
    start_export = export_child.start_export
    monkeypatch.setattr(export_child, "start_export", lambda out: start_export(tmp_path / "none"))
    outcome = finish_run(session)
    run = tmp_path / "run"
    assert {"report.html", "summary.md", "summary.json"} <= set(outcome.files)
    assert not (run / "results.csv").exists() and "results.csv" not in outcome.files
    assert len((run / "results.jsonl").read_text("utf-8").splitlines()) == 2
    text = dict(outcome.sections)["llm-harness report"]
    assert "results.csv and results.parquet not written" in text
    assert f"fix: `llm-harness report {run}`" in text


def test_a_failed_report_keeps_the_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.report.html

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(harness.report.html, "render_report", broken)
    outcome = finish_run(_written_session(tmp_path))
    assert "report not written: template exploded" in dict(outcome.sections)["llm-harness report"]
    assert {"results.csv", "results.parquet", "summary.json"} <= set(outcome.files)
    assert "report.html" not in outcome.files


def test_the_end_of_run_pauses_the_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import harness.run.finish

    seen: list[bool] = []
    real = harness.run.finish.summarize

    def watched(results: list[Result]) -> object:
        seen.append(gc.isenabled())
        return real(results)

    monkeypatch.setattr(harness.run.finish, "summarize", watched)
    assert gc.isenabled()
    finish_run(_written_session(tmp_path))
    assert seen == [False]
    assert gc.isenabled()


def test_a_paused_collector_is_left_as_it_was_even_after_an_error() -> None:
    import gc

    from harness.gcpause import collector_paused

    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("report failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()
