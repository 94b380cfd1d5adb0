"""``llm-harness report``: re-render, merge several runs, and clear errors on bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from reportkit import blob, sample_results

from harness.cli import main as harness_main
from harness.report.cli import DEFAULT_MERGED, main
from harness.report.merge import load_run, merge_runs


def test_rerender_single_run_in_place(run_dir: Callable[..., Path]) -> None:
    run = run_dir("run-a")
    assert main([str(run)]) == 0
    for name in ("report.html", "summary.md", "summary.json", "results.csv", "results.parquet"):
        assert (run / name).is_file(), name
    assert "run-a" in (run / "report.html").read_text("utf-8")


def test_rerender_accepts_results_jsonl_and_output_file(
    run_dir: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir("run-a")
    out = tmp_path / "elsewhere" / "cmp.html"
    assert harness_main(["report", str(run / "results.jsonl"), "-o", str(out)]) == 0
    assert out.is_file()
    assert (out.parent / "results.csv").is_file()
    assert not (run / "report.html").exists()
    assert str(out) in capsys.readouterr().out


def test_merge_suffixes_targets_present_in_both_runs(run_dir: Callable[..., Path]) -> None:
    a = run_dir("run-a", sample_results("run-a", ["openai:gpt-4o-mini", "groq:llama-3"]))
    b = run_dir("run-b", sample_results("run-b", ["openai:gpt-4o-mini", "mistral:small"]))
    results, meta = merge_runs([load_run(a), load_run(b)])
    targets = sorted({r.target for r in results})
    assert targets == [
        "groq:llama-3",
        "mistral:small",
        "openai:gpt-4o-mini [run-a]",
        "openai:gpt-4o-mini [run-b]",
    ]
    assert [m["run_id"] for m in meta["runs"]] == ["run-a", "run-b"]


def test_merge_cli_writes_one_comparison(
    run_dir: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = run_dir("run-a")
    b = run_dir("run-b")
    monkeypatch.chdir(tmp_path)
    assert main([str(a), str(b)]) == 0
    html = (tmp_path / DEFAULT_MERGED).read_text("utf-8")
    assert "comparison · 2 runs" in html
    labels = {c["label"] for c in blob(html)["columns"]}
    assert "openai:gpt-4o-mini [run-a]" in labels and "openai:gpt-4o-mini [run-b]" in labels
    csv = pd.read_csv(tmp_path / DEFAULT_MERGED.parent / "results.csv")
    assert len(csv) == 2 * len(sample_results())


def test_same_run_twice_stays_distinguishable(run_dir: Callable[..., Path]) -> None:
    a = run_dir("run-a")
    results, _ = merge_runs([load_run(a), load_run(a)])
    assert "openai:gpt-4o-mini [run-a#2]" in {r.target for r in results}


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


def test_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    err = _err(capsys)
    assert str(tmp_path / "nope") in err and len(err.splitlines()) == 1


def test_directory_without_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "no results.jsonl" in _err(capsys)


def test_empty_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "results.jsonl"
    f.write_text("\n", "utf-8")
    assert main([str(f)]) == 2
    err = _err(capsys)
    assert str(f) in err and "empty" in err


def test_bad_json_line_names_file_and_line(
    run_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir("run-a")
    jsonl = run / "results.jsonl"
    lines = jsonl.read_text("utf-8").splitlines()
    lines.insert(2, "{not json")
    jsonl.write_text("\n".join(lines) + "\n", "utf-8")
    assert main([str(run)]) == 2
    err = _err(capsys)
    assert f"{jsonl}:3:" in err and len(err.splitlines()) == 1
    assert not (run / "report.html").exists()


def test_json_that_is_not_a_result_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "results.jsonl"
    f.write_text('{"run_id": "x"}\n', "utf-8")
    assert main([str(f)]) == 2
    err = _err(capsys)
    assert f"{f}:1:" in err and "missing field" in err


def test_torn_last_line_is_skipped_with_a_warning(
    run_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir("run-a")
    jsonl = run / "results.jsonl"
    n = len(jsonl.read_text("utf-8").splitlines())
    with jsonl.open("a", encoding="utf-8") as fh:
        fh.write('{"run_id": "run-a", "suite"')
    assert main([str(run)]) == 0
    assert f"{jsonl}:{n + 1}: skipped a torn last line" in capsys.readouterr().err
    assert len(pd.read_csv(run / "results.csv")) == n


def test_bad_meta_json_names_the_file(
    run_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir("run-a")
    (run / "meta.json").write_text("{broken", "utf-8")
    assert main([str(run)]) == 2
    assert str(run / "meta.json") in _err(capsys)


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_store_run_ids_are_shortened_to_their_random_tail(run_dir: Callable[..., Path]) -> None:
    ids = ("20261124-153000-a1b2c3", "20261125-090000-d4e5f6")
    runs = [load_run(run_dir(rid, sample_results(rid, ["openai:gpt-4o-mini"]))) for rid in ids]
    results, meta = merge_runs(runs)
    assert {r.target for r in results} == {
        "openai:gpt-4o-mini [a1b2c3]",
        "openai:gpt-4o-mini [d4e5f6]",
    }
    assert [(m["label"], m["run_id"]) for m in meta["runs"]] == [
        ("a1b2c3", ids[0]),
        ("d4e5f6", ids[1]),
    ]
