"""CSV and Parquet exports load back into pandas with one row per results.jsonl line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from reportkit import META, make_result, sample_results, write_run

from harness.report import exports, write_reports
from harness.results.stats import summarize
from harness.results.store import load_results


def _jsonl_lines(run: Path) -> int:
    return sum(1 for line in (run / "results.jsonl").read_text("utf-8").splitlines() if line)


def test_exports_round_trip_row_count_and_nested_fields(tmp_path: Path) -> None:
    results = sample_results()
    # Output that is hard for CSV: newlines, quotes, commas, a very long line.
    results.append(
        make_result(case_id="tricky", output='line 1\nline "2", with, commas\n' + "x" * 5000)
    )
    run = write_run(tmp_path / "run", results, META)
    loaded = load_results(run)
    files = write_reports(run, loaded, META, summarize(loaded))

    n = _jsonl_lines(run)
    csv = pd.read_csv(files["results.csv"])
    parquet = pd.read_parquet(files["results.parquet"])
    assert len(csv) == len(parquet) == n == len(results)
    assert list(csv.columns) == list(exports.COLUMNS)
    assert list(parquet.columns) == list(exports.COLUMNS)
    tricky = parquet[parquet.case_id == "tricky"].iloc[0]
    assert tricky.output == results[-1].output
    assert csv[csv.case_id == "tricky"].iloc[0].output == results[-1].output
    # Nested fields are JSON strings that restore the original structure.
    first = parquet.iloc[0]
    assert json.loads(first.scores) == loaded[0].scores
    assert json.loads(first.prompt) == loaded[0].prompt
    assert json.loads(csv.iloc[0].vars) == loaded[0].vars
    assert parquet.cached.sum() == sum(r.cached for r in results)


def test_parquet_is_skipped_with_a_note_without_pyarrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(exports, "parquet_available", lambda: False)
    results = sample_results()
    with caplog.at_level(logging.WARNING, logger="harness.report"):
        files = write_reports(tmp_path, results, META, summarize(results))
    assert "results.parquet" not in files
    assert not (tmp_path / "results.parquet").exists()
    assert "pyarrow is not installed" in caplog.text
    assert set(files) == {"report.html", "summary.md", "results.csv"}
