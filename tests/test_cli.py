"""The console script: argument handling for `run`, key secrecy in `providers`, `cache`."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import cli


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []

    def fake_call(cmd: list[str]) -> int:
        seen.append(cmd)
        return 0

    monkeypatch.setattr("harness.run.signals.run_forwarding", fake_call)
    return seen


def test_run_defaults_to_evals_even_when_an_option_value_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evals").mkdir()
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "main.json").write_text("{}")
    assert cli.main(["run", "--llm-baseline", "baselines/main.json", "-k", "openai"]) == 0
    (cmd,) = calls
    assert cmd[-5:] == ["evals", "--llm-baseline", "baselines/main.json", "-k", "openai"]


def test_run_passes_named_paths_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("")
    assert cli.main(["run", "mine.yaml"]) == 0
    assert calls[0][-1] == "mine.yaml" and "evals" not in calls[0]


def test_run_without_evals_folder_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run"]) == cli.EXIT_USAGE
    assert "no evals/ folder" in capsys.readouterr().err


def test_providers_says_whether_a_key_is_set_never_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    assert cli.main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "sk-secret-value" not in out
    assert "key: set" in out and "not set (GROQ_API_KEY)" in out
    assert "gpt-4o-mini" in out and "prices as of" in out


def test_unknown_command_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["nope"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown command 'nope'" in err and "simulate" in err


def test_cache_stats_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.calls.cache import CacheMode, ResponseCache, cache_key
    from harness.types import Completion, Message, Request

    cache = ResponseCache(tmp_path / "c", CacheMode.USE)
    request = Request("openai", "gpt-4o-mini", (Message("user", "hi"),), max_tokens=5)
    cache.put(cache_key(request, None), Completion(text="hello"), 0.001)
    cache.close()
    assert cli.main(["cache", "stats", "--dir", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.startswith("1 responses")
    assert cli.main(["cache", "clear", "--dir", str(tmp_path / "c")]) == 0
    assert "removed 1" in capsys.readouterr().out


def test_run_drops_the_double_dash_before_pytest_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evals").mkdir()
    assert cli.main(["run", "--", "--llm-cache", "replay"]) == 0
    assert calls[0][-3:] == ["evals", "--llm-cache", "replay"]


def test_the_readme_options_table_lists_every_option_with_its_ini_twin() -> None:
    from harness.config import OPTIONS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `--llm-")]
    for option in OPTIONS:
        rows = [line for line in table if f"`{option.cli}" in line]
        assert rows, f"{option.cli} is missing from the README's options table"
        assert option.ini in rows[0], f"{option.cli}: the README row lacks {option.ini}"
        if option.env:
            assert option.env in rows[0], f"{option.cli}: the README row lacks {option.env}"


def test_run_help_lists_the_harness_options_first_and_points_to_pytest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.config import OPTIONS

    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--basetemp" not in out  # pytest's 500-line help is not printed
    positions = [out.index(o.cli) for o in OPTIONS]
    assert positions == sorted(positions) and positions[0] < 400
    assert out.rstrip().endswith("see them with `python -m pytest --help`.")
