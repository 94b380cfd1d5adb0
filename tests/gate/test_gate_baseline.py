"""Baseline files: round trip, diff-friendly layout, and errors that name file, line and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_helpers import cell, run

from harness.errors import ConfigError
from harness.gate import load_baseline, save_baseline
from harness.gate.baseline import VERSION

META = {
    "run_id": "20261124-120000-abcdef",
    "git_commit": "0123456789abcdef",
    "argv": ["--llm-baseline", "secret-looking"],
    "versions": {"python": "3.11"},
}


def test_round_trip_keeps_every_cell(tmp_path: Path) -> None:
    results = [
        *run([True, False, True], schema_valid=True),
        cell("c000", True, repeat=1, temperature=None, latency_ms=None, cost=None),
        cell("c000", False, status="error", target="groq:llama"),
    ]
    path = tmp_path / "baselines" / "main.json"
    save_baseline(results, path, META)
    baseline = load_baseline(path)
    assert baseline.source == str(path)
    assert len(baseline.cells) == 5
    by_key = {c.key: c for c in baseline.cells}
    first = by_key[("s", "c001", "openai:gpt-4o-mini", 0.0, 0, "default")]
    assert (first.passed, first.status, first.schema_valid) == (False, "failed", True)
    assert (first.latency_ms, first.cost, first.fingerprint) == (500.0, 0.001, "fp-c001")
    assert first.scores == {"contains": False}
    untimed = by_key[("s", "c000", "openai:gpt-4o-mini", None, 1, "default")]
    assert (untimed.latency_ms, untimed.cost) == (None, None)
    assert by_key[("s", "c000", "groq:llama", 0.0, 0, "default")].status == "error"
    assert baseline.meta["run_id"] == META["run_id"]
    assert "argv" not in baseline.meta and "versions" not in baseline.meta
    assert "commit 0123456789" in baseline.label


def test_file_is_sorted_json_with_one_cell_per_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    save_baseline(run([True] * 3, suite="z") + run([True] * 2, suite="a"), path, META)
    text = path.read_text("utf-8")
    data = json.loads(text)
    assert (data["format"], data["version"]) == ("llm-harness-baseline", VERSION)
    assert list(data) == sorted(data)
    lines = text.splitlines()
    cell_lines = [line for line in lines if line.startswith('{"case"')]
    assert len(cell_lines) == 5
    assert [json.loads(line.rstrip(","))["suite"] for line in cell_lines] == [
        "a",
        "a",
        "z",
        "z",
        "z",
    ]
    assert len(data["groups"]) == 2 and data["groups"][0]["pass_rate"] == 1.0


def test_one_changed_cell_changes_one_cell_line(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    meta = {"run_id": "same", "created_at": 1.0}
    save_baseline(run([True] * 5), a, meta)
    save_baseline(run([True, True, False, True, True]), b, meta)
    changed = [
        (x, y)
        for x, y in zip(a.read_text().splitlines(), b.read_text().splitlines(), strict=True)
        if x != y
    ]
    cells = [pair for pair in changed if pair[0].startswith('{"case"')]
    assert len(cells) == 1 and '"c002"' in cells[0][0]
    assert len(changed) == 2  # that cell and its group's aggregate line


def _problem(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    return str(info.value)


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    message = _problem(tmp_path / "baselines" / "main.json")
    assert message.startswith(f"{tmp_path / 'baselines' / 'main.json'}: baseline file not found")
    assert "fix: create it" in message and "--llm-save-baseline" in message


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    save_baseline(run([True] * 3), path, META)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace('"passed": true', '"passed": tru')
    path.write_text("\n".join(lines))
    message = _problem(path)
    assert message.startswith(f"{path}:3: not valid JSON")
    assert "fix: regenerate it" in message


def test_merge_conflict_markers(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    save_baseline(run([True] * 3), path, META)
    lines = path.read_text().splitlines()
    lines[3:3] = ["<<<<<<< HEAD", "=======", ">>>>>>> feature"]
    path.write_text("\n".join(lines))
    message = _problem(path)
    assert message.startswith(f"{path}:4: contains git merge-conflict markers")


def test_bad_cell_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    save_baseline(run([True] * 3), path, META)
    text = path.read_text().replace('"repeat": 0,', '"repeat": "zero",', 1)
    path.write_text(text)
    message = _problem(path)
    assert message.startswith(f"{path}:3: cell 1:")
    assert "'repeat'" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"cells": []}', "not an llm-harness baseline"),
        ("[]", "not an llm-harness baseline"),
        ('{"format": "llm-harness-baseline", "version": 99, "cells": []}', "newer than"),
        ('{"format": "llm-harness-baseline", "version": 1, "cells": {}}', "'cells' must be a list"),
        ('{"run_id": "r", "case_id": "c"}', "not an llm-harness baseline"),
    ],
)
def test_wrong_content(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    message = _problem(path)
    assert problem in message and "fix:" in message


def test_directory_is_not_a_baseline(tmp_path: Path) -> None:
    assert "is a directory" in _problem(tmp_path)


def test_duplicate_cell(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    save_baseline(run([True]) + run([False]), path, META)
    assert "cell 2 repeats" in _problem(path)
