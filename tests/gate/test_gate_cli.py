"""`llm-harness compare A B` on stored runs and baseline files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_helpers import run

from harness import cli
from harness.gate import GATE_EXIT_CODE, save_baseline
from harness.results.store import RunStore


def _store(path: Path, results, run_id: str) -> Path:
    store = RunStore(path)
    for r in results:
        store.append(r)
    store.write_json("meta.json", {"run_id": run_id, "git_commit": "abc1234"})
    store.close()
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path, Path]:
    good = _store(tmp_path / "runs" / "good", run([True] * 40, schema_valid=True), "good")
    bad = run([i >= 20 for i in range(40)], schema_valid=True)
    worse = _store(tmp_path / "runs" / "bad", bad, "bad")
    baseline = tmp_path / "baselines" / "main.json"
    save_baseline(run([True] * 40, schema_valid=True), baseline, {"run_id": "base"})
    return good, worse, baseline


def test_same_runs_exit_zero_even_with_fail(runs, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    good, _, _ = runs
    assert cli.main(["compare", str(good), str(good), "--fail"]) == 0
    out = capsys.readouterr().out
    assert "gate: no regression" in out and "run good" in out


def test_regression_exits_6_only_with_fail(runs, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    good, bad, _ = runs
    assert cli.main(["compare", str(good), str(bad)]) == 0
    assert cli.main(["compare", str(good), str(bad / "results.jsonl"), "--fail"]) == GATE_EXIT_CODE
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "b=20 c=0" in out


def test_baseline_file_as_reference_and_markdown(runs, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    _, bad, baseline = runs
    assert cli.main(["compare", str(baseline), str(bad), "--markdown", "--fail"]) == 6
    out = capsys.readouterr().out
    assert out.startswith("## llm-harness gate: ❌ regression")
    assert "| pass rate |" in out


def test_json_output_and_flag_overrides(runs, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    good, bad, _ = runs
    code = cli.main(["compare", str(good), str(bad), "--json", "--fail", "--min-effect", "0.6"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["has_regression"] is False
    assert data["settings"]["min_effect"] == 0.6


def test_settings_come_from_rootdir(runs, capsys, tmp_path) -> None:
    good, bad, _ = runs
    (tmp_path / "pyproject.toml").write_text("[tool.llm-harness.gate]\nmin_effect = 0.9\n")
    assert cli.main(["compare", str(good), str(bad), "--fail", "--rootdir", str(tmp_path)]) == 0
    assert "min effect 90 pts" in capsys.readouterr().out


def test_bad_input_exits_2_with_one_line(runs, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    good, _, _ = runs
    assert cli.main(["compare", str(tmp_path / "nope"), str(good)]) == 2
    err = capsys.readouterr().err
    assert "nope: not found" in err and "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["compare", str(good), str(empty)]) == 2
    assert "no results.jsonl" in capsys.readouterr().err
    (tmp_path / "pyproject.toml").write_text("[tool.llm-harness.gate]\nalfa = 1\n")
    assert cli.main(["compare", str(good), str(good)]) == 2
    assert "unknown gate setting 'alfa'" in capsys.readouterr().err
