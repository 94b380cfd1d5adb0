"""`llm-harness runs` lists past runs with their figures; `llm-harness view` opens the latest
or a named report, or serves the runs folder on 127.0.0.1."""

from __future__ import annotations

import threading
import time
import urllib.request
import webbrowser
from pathlib import Path

import pytest

from harness import cli
from harness.config import Settings
from harness.results.runs import serve
from harness.run.finish import finish_run
from harness.run.session import RunSession
from harness.types import Result


def _run(root: Path, run_id: str, passed: list[bool]) -> Path:
    session = RunSession(Settings(rootdir=root), run_id=run_id)
    for i, ok in enumerate(passed):
        session.record(
            Result(
                run_id=run_id,
                suite="s",
                case_id=f"c{i}",
                target="openai:gpt-4o-mini",
                provider="openai",
                model="gpt-4o-mini",
                temperature=None,
                repeat=0,
                status="passed" if ok else "failed",
                passed=ok,
                latency_ms=100.0,
                cost_usd=0.25,
                cost_if_live_usd=0.25,
            )
        )
    finish_run(session)
    session.close()
    return session.out_dir


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    _run(tmp_path, "20261129-100000-aaaaaa", [True, True, False, False])
    _run(tmp_path, "20261129-110000-bbbbbb", [True, True, True, False])
    return tmp_path


def test_runs_lists_each_run_with_its_headline(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["runs"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "20261129-100000-aaaaaa  4 cells (4 ran), pass 50%, $1.00 spent, 1 targets, report.html",
        "20261129-110000-bbbbbb  4 cells (4 ran), pass 75%, $1.00 spent, 1 targets, report.html",
    ]


def test_view_opens_the_latest_or_the_named_report(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    assert cli.main(["view"]) == 0
    assert cli.main(["view", "aaaa"]) == 0
    assert [u.split("/")[-2] for u in opened] == [
        "20261129-110000-bbbbbb",
        "20261129-100000-aaaaaa",
    ]
    assert cli.main(["view", "zzzz"]) == 2
    assert "no such run" in capsys.readouterr().err


def test_view_serve_serves_the_runs_folder_on_loopback(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(project / "reports/runs", 0, stop))
    thread.start()
    try:
        for _ in range(100):
            out = capsys.readouterr().out
            if "http://" in out:
                break
            time.sleep(0.05)
        url = out.split()[3] + "20261129-100000-aaaaaa/report.html"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"<html" in response.read(2000).lower()
    finally:
        stop.set()
        thread.join()
