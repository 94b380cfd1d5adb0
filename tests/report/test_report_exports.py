"""CSV and Parquet exports load back into pandas with one row per results.jsonl line."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from reportkit import META, make_result, sample_results, write_run

from harness.report import exports, write_reports
from harness.results.stats import summarize
from harness.results.store import load_results
from harness.run.export_child import ExportFailed, start_export
from harness.types import Result


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


def _varied(n: int = 7) -> list[Result]:
    """Results whose columns are hard to type: an int temperature, a column all missing, an
    optional boolean both set and missing, nested values, text CSV has to quote."""
    results = sample_results()
    results[0].temperature = 0  # an int where the field says float
    results[1].tool_calls = [{"name": "lookup", "arguments": {"q": "é, \"x\"\n"}}]
    results[2].output = 'a "quoted", multi\nline answer'
    results[3].metadata = {"tags": ["a", "b"]}
    for r in results[:n]:
        r.cached_input_tokens = None  # int | None, missing everywhere in this slice
    return results[:n] if n else results


def _csv_of_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)))


@pytest.mark.parametrize("batch_rows", [2, 1000])
def test_streamed_files_read_back_equal_to_the_pandas_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    # batch_rows=2: several record batches (row groups), one of them short.
    monkeypatch.setattr(exports, "BATCH_ROWS", batch_rows)
    results = _varied()
    files, notes = exports.write_exports(results, tmp_path)
    assert notes == []
    expected = exports.results_frame(results)
    assert list(expected.columns) == list(exports.COLUMNS)
    parquet = pd.read_parquet(files["results.parquet"])
    pd.testing.assert_frame_equal(parquet, expected)
    pd.testing.assert_frame_equal(pd.read_csv(files["results.csv"]), _csv_of_frame(expected))
    # The declared types, whatever the values: temperature stays a float column.
    assert parquet.temperature.dtype == "float64"
    assert parquet.cached_input_tokens.isna().all()
    assert pq.ParquetFile(files["results.parquet"]).metadata.num_row_groups == (
        -(-len(results) // batch_rows)
    )
    assert json.loads(parquet.tool_calls.iloc[1]) == results[1].tool_calls


def test_frame_of_a_run_directory_equals_its_exports(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", _varied(0), META)
    files, _ = exports.write_exports(load_results(run), run)
    frame = exports.frame(run)
    assert len(frame) == _jsonl_lines(run)
    pd.testing.assert_frame_equal(pd.read_parquet(files["results.parquet"]), frame)


def test_a_run_with_no_rows_still_gets_files_with_the_columns(tmp_path: Path) -> None:
    files, _ = exports.write_exports([], tmp_path)
    assert list(pd.read_csv(files["results.csv"]).columns) == list(exports.COLUMNS)
    parquet = pd.read_parquet(files["results.parquet"])
    assert len(parquet) == 0 and list(parquet.columns) == list(exports.COLUMNS)


def test_a_failed_export_leaves_no_half_written_file(tmp_path: Path) -> None:
    def results() -> Iterator[Result]:
        yield from sample_results()
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        exports.write_exports(results(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_export_child_writes_the_same_files_from_results_jsonl(tmp_path: Path) -> None:
    results = _varied(0)
    run = write_run(tmp_path / "run", results, META)
    # A torn last line, as an interrupted run leaves: skipped, as load_results skips it.
    with open(run / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"run_id": "run-a", "suite": "qa", "case_')
    files, notes = start_export(run).wait(timeout=120)
    assert notes == []
    assert set(files) == {"results.csv", "results.parquet"}
    expected = exports.results_frame(load_results(run))
    assert len(expected) == len(results)
    pd.testing.assert_frame_equal(pd.read_parquet(files["results.parquet"]), expected)
    pd.testing.assert_frame_equal(pd.read_csv(files["results.csv"]), _csv_of_frame(expected))


def test_the_export_child_imports_neither_pandas_nor_numpy(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", sample_results(), META)
    code = (
        "import sys\n"
        "from harness.report.exports import main\n"
        f"main([{str(run)!r}])\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert out[-1] == "['pyarrow']"
    assert (run / "results.parquet").is_file()


def test_a_failing_export_child_says_why(tmp_path: Path) -> None:
    said = r"\(exit status 2\): .*no-such-run/results\.jsonl: no such file"
    with pytest.raises(ExportFailed, match=said):
        start_export(tmp_path / "no-such-run").wait(timeout=120)


def test_a_record_dict_gives_the_row_its_result_gives(tmp_path: Path) -> None:
    results = _varied()
    records = [r.to_dict() for r in results]
    # An older record, written before some fields existed: they take their defaults.
    for key in ("derived_metrics", "metadata", "stall_ms", "prompt_id"):
        del records[0][key]
    assert list(exports.rows(records)) == list(exports.rows(
        Result.from_dict(d) for d in records))
