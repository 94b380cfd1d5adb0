"""Gate settings from pyproject.toml or an ini file; every mistake names file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.gate import GateSettings, load_gate_settings


def test_defaults_without_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-q'\n")
    settings = load_gate_settings(tmp_path)
    assert settings == GateSettings()
    assert (settings.alpha, settings.min_effect) == (0.05, 0.05)
    assert (settings.latency_tolerance, settings.cost_tolerance) == (1.25, 1.10)
    assert settings.floor_for("any") is None


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.llm-harness.gate]\n"
        "alpha = 0.01\n"
        "min_effect = 0.1\n"
        "latency_tolerance = 1.5\n"
        "latency_slack_ms = 50\n"
        "cost_tolerance = 1.2\n"
        "min_pass_rate = 0.7\n"
        "min_cases = 20\n"
        "correction = 'none'\n"
        "suite_min_pass_rate = { extraction = 0.95, Summaries = 0.8 }\n"
    )
    s = load_gate_settings(tmp_path)
    assert (s.alpha, s.min_effect, s.latency_tolerance, s.latency_slack_ms) == (0.01, 0.1, 1.5, 50)
    assert (s.cost_tolerance, s.min_pass_rate, s.min_cases, s.correction) == (1.2, 0.7, 20, "none")
    assert s.floor_for("extraction") == 0.95
    assert s.floor_for("Summaries") == 0.8
    assert s.floor_for("other") == 0.7
    assert s.source == str(tmp_path / "pyproject.toml")


@pytest.mark.parametrize("name", ["pytest.ini", "tox.ini", "setup.cfg"])
def test_ini_section(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(
        "[pytest]\naddopts = -q\n\n"
        "[llm-harness:gate]\n"
        "alpha = 0.1\n"
        "min_cases = 3\n"
        "suite_min_pass_rate =\n    Extraction = 0.9\n    chat = 0.5\n"
    )
    s = load_gate_settings(tmp_path)
    assert (s.alpha, s.min_cases) == (0.1, 3)
    assert s.suite_min_pass_rate == {"Extraction": 0.9, "chat": 0.5}


def test_unknown_key_names_file_line_and_valid_keys(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n\n[tool.llm-harness.gate]\nalpha = 0.05\nalfa = 0.01\n")
    with pytest.raises(ConfigError) as info:
        load_gate_settings(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}:6: unknown gate setting 'alfa'")
    assert "fix: valid settings: alpha, min_effect" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("alpha = 0", "expected 0 < value <= 1"),
        ("alpha = 'x'", "expected a number"),
        ("latency_tolerance = 0.8", "ratio >= 1"),
        ("min_cases = 0", "expected a number >= 1"),
        ("min_cases = 2.5", "whole number"),
        ("min_pass_rate = 80", "0 <= value <= 1"),
        ("correction = 'bonferroni'", "holm, none"),
        ("suite_min_pass_rate = { a = 2 }", "suite 'a'"),
        ("suite_min_pass_rate = 0.5", "table of suite = rate"),
        ("min_effect = true", "expected a number"),
    ],
)
def test_bad_values(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.llm-harness.gate]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_gate_settings(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}:2: gate setting '{line.split()[0]}'")
    assert expected in message and "\n  fix: " in message


def test_bad_ini_pair(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text("[llm-harness:gate]\nsuite_min_pass_rate = extraction\n")
    with pytest.raises(ConfigError, match=r"tox.ini:2: .*'suite = rate' pairs"):
        load_gate_settings(tmp_path)


def test_settings_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.llm-harness.gate]\nalpha = 0.01\n")
    (tmp_path / "setup.cfg").write_text("[llm-harness:gate]\nalpha = 0.1\n")
    with pytest.raises(ConfigError, match=r"defined in both .*pyproject\.toml and .*setup\.cfg"):
        load_gate_settings(tmp_path)


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.llm-harness.gate\nalpha = 1\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: not valid TOML"):
        load_gate_settings(tmp_path)


def test_overrides_win_and_are_checked(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.llm-harness.gate]\nalpha = 0.01\n")
    s = load_gate_settings(tmp_path, {"alpha": "0.2", "min_pass_rate": None, "min_cases": "7"})
    assert (s.alpha, s.min_cases, s.min_pass_rate) == (0.2, 7, None)
    with pytest.raises(ConfigError, match="command line: unknown gate setting 'beta'"):
        load_gate_settings(tmp_path, {"beta": 1})
