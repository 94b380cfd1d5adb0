"""`llm-harness init` writes a working starter without overwriting anything, and the starter
run against `llm-harness simulate --demo` shows each demo model's scripted trade-off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

from harness import cli
from harness.simulator import Simulator
from harness.simulator import cli as sim_cli
from harness.simulator.demo import DEMO_MODELS, demo_config
from harness.starter import FILES, init_project
from harness.suite.loader import load_suite

BIN = Path(sys.executable).parent


def test_init_writes_the_starter_once_and_never_overwrites(tmp_path: Path) -> None:
    assert cli.main(["init", str(tmp_path)]) == 0
    for target in FILES.values():
        assert (tmp_path / target).is_file(), target
    suite = load_suite(tmp_path / "evals/contacts.yaml")
    assert suite.schema is not None and len(suite.cases) == 12
    assert suite.temperatures == (None,)
    ini = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["pytest"]
    assert ini["ini_options"]["llm_suite_dirs"] == "evals"
    assert ".llm-cache/" in (tmp_path / ".gitignore").read_text().splitlines()
    assert os.access(tmp_path / "scripts/llm-simulate.sh", os.X_OK)

    (tmp_path / "evals/contacts.yaml").write_text("# mine\n")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    lines = init_project(tmp_path)
    assert all(line.startswith("kept") for line in lines), lines
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_adds_only_missing_entries_to_existing_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    (tmp_path / ".gitignore").write_text("node_modules/\n.llm-cache/")
    init_project(tmp_path)
    data = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert (
        data["project"]["name"] == "mine"
        and "llm_cache_dir" in data["tool"]["pytest"]["ini_options"]
    )
    assert (tmp_path / ".gitignore").read_text().splitlines() == [
        "node_modules/",
        ".llm-cache/",
        "reports/runs/",
        "reports/merged/",
    ]
    # An ini table already there: a second one would be invalid TOML, so it says what to add.
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-q"\n')
    lines = init_project(other)
    assert any("add these lines" in line and "llm_suite_dirs" in line for line in lines)
    tomllib.loads((other / "pyproject.toml").read_text())


def test_simulate_prints_the_lines_to_paste(capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    stop.set()  # print, then return at once
    assert sim_cli.main(["--demo", "--port", "0"], stop=stop) == 0
    out = capsys.readouterr().out
    exports = [line for line in out.splitlines() if line.startswith("export ")]
    names = {part.split("=")[0] for line in exports for part in line.split()[1:]}
    assert {
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "ANTHROPIC_BASE_URL",
        "GROQ_API_KEY",
        "MISTRAL_BASE_URL",
    } <= names


def test_the_starter_against_the_demo_shows_each_models_scripted_quality(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sdk in ("openai", "anthropic", "groq", "mistralai"):
        pytest.importorskip(sdk)
    init_project(tmp_path)
    config = demo_config()
    for script in config["models"].values():
        script["latency_ms"] = 1  # the scripted latencies are the demo's, not this test's
        script["token_rate"] = None
    with Simulator(config) as sim:
        for line in sim_cli.export_lines(sim):
            for pair in line.split()[1:]:
                name, _, value = pair.partition("=")
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
        done = subprocess.run(
            ["llm-harness", "run", "--llm-out=run"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 1, done.stderr  # the scripted mistakes fail their cells
    records = [json.loads(x) for x in (tmp_path / "run/results.jsonl").read_text().splitlines()]
    assert {r["target"] for r in records} == set(DEMO_MODELS)
    for target, (wrong, *_rest) in DEMO_MODELS.items():
        mine = [r for r in records if r["target"] == target]
        # Per-case answers came through the prompt the harness sent: the model's wrong
        # cases fail both samples, the others pass unless their JSON was cut off.
        failed_cases = {r["case_id"] for r in mine if not r["passed"] and r["schema_valid"]}
        assert len(failed_cases) == round(wrong * 12), target
        assert all(r["status"] in ("passed", "failed") for r in mine)
    # The report's top section names a best target per metric.
    html = (tmp_path / "run/report.html").read_text()
    decision = html[html.index('id="decision"') : html.index('id="run"')]
    for metric in ("quality", "cost", "latency", "value"):
        assert f'class="pick-{metric}"' in decision, metric
    assert "anthropic:claude-haiku-4-5" in decision  # the demo's most accurate model
