"""Every code block of README.md and docs/*.md that is a command, a suite, a script or a
settings file is executed here, against the simulator: a block that is not is listed in
NOT_RUN with the reason, and a new block that is neither fails the first test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.simulator import Simulator
from harness.simulator.config import SimConfig
from harness.suite.loader import load_suite

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks() -> Iterator[tuple[str, str, str]]:
    """(file name, language, body) of every fenced block."""
    for path in DOCS:
        for m in _FENCE.finditer(path.read_text()):
            yield path.name, m.group(1), m.group(2)


def block(name: str, first: str) -> str:
    """The block of ``name`` whose first line starts with ``first``."""
    found = [b for n, _, b in blocks() if n == name and b.startswith(first)]
    assert len(found) == 1, f"{name}: {len(found)} blocks start with {first!r}"
    return found[0]


#: (file, start of the first line) -> what runs it.
RUN = {
    ("README.md", "targets:\n  - {id: my-ollama"): "test_target_fragments_load_as_suites",
    ("README.md", "name: contact-extraction"): "test_readme_suite_runs_on_the_simulator",
    ("README.md", "llm-harness init"): "test_readme_start_a_project",
    ("README.md", "import pytest"): "test_readme_plain_test_runs_on_the_simulator",
    ("ci.md", "# once, on the reference branch"): "test_ci_commands_save_gate_and_compare",
    ("ci.md", "[tool.llm-harness.gate]"): "test_gate_settings_blocks_load",
    ("ci.md", "[llm-harness:gate]"): "test_gate_settings_blocks_load",
    ("local.md", "targets:"): "test_target_fragments_load_as_suites",
    ("providers.md", "targets:"): "test_target_fragments_load_as_suites",
    ("report.md", "llm-harness report reports/runs/"): "test_ci_commands_save_gate_and_compare",
    ("report.md", "import json, pandas"): "test_ci_commands_save_gate_and_compare",
    ("simulator.md", "from harness.simulator import Simulator"): "test_simulator_blocks_run",
    ("simulator.md", "seed: 7"): "test_simulator_blocks_run",
}
#: Blocks that are not run here, and why.
NOT_RUN = {
    ("README.md", "python3.11 -m venv .venv && .venv/bin/pip install -q -e '.[all]'"): (
        "installs the package and runs the embedded model (minutes); the install is .ci/run's "
        "command and `llm-harness run` on evals/ is what the other commands here run"
    ),
    ("README.md", "python3.11 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'"): (
        "the test command itself: .ci/run runs it verbatim"
    ),
    ("architecture.md", "evals/*.yaml"): "a diagram",
    ("ci.md", "{\n"): "an abridged baseline file (… marks elided fields); not JSON on purpose",
    ("providers.md", ".venv/bin/pytest tests/providers"): "a part of this test suite",
    ("report.md", "llm-harness report RUN..."): "a usage synopsis, not a command",
    ("README.md", "prompts:\n  - id: v1"): (
        "a fragment (prompt variants) shown inside a suite; not run here yet"
    ),
    ("scoring.md", "openai-compatible:\n  big-model:"): "a price-file fragment; not run here yet",
    ("security.md", "evals/s.yaml:2:"): "an error message, not a command",
    ("performance.md", "npm install --prefix /tmp/pf promptfoo@0.121"): (
        "a benchmark: installs promptfoo from npm and makes minutes of calls; no bench script "
        "is run by the tests (figures, never assertions)"
    ),
}


def _key(name: str, body: str) -> tuple[str, str] | None:
    for table in (RUN, NOT_RUN):
        for file, start in table:
            if file == name and body.startswith(start):
                return (file, start)
    return None


def test_every_block_is_run_or_says_why_not() -> None:
    seen = []
    for name, _, body in blocks():
        key = _key(name, body)
        assert key is not None, f"{name}: a block starting {body[:60]!r} is neither run nor listed"
        seen.append(key)
    assert set(seen) == set(RUN) | set(NOT_RUN)  # no stale entries


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project with the README's suite and the repository's datasets, every cloud provider
    pointed at a running simulator."""
    pytest.importorskip("openai")
    pytest.importorskip("anthropic")
    pytest.importorskip("groq")
    shutil.copytree(ROOT / "datasets", tmp_path / "datasets")
    (tmp_path / "evals").mkdir()
    suite = block("README.md", "name: contact-extraction")
    (tmp_path / "evals" / "contacts.yaml").write_text(suite)
    with Simulator({"default": {"latency_ms": 1}}) as sim:
        for provider in ("openai", "anthropic", "groq", "mistral"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", sim.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.chdir(tmp_path)
        yield tmp_path


def _sh(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_readme_suite_runs_on_the_simulator(project: Path) -> None:
    done = _sh("llm-harness run --llm-out=run", project)
    assert done.returncode in (0, 1), done.stderr
    summary = json.loads((project / "run/summary.json").read_text())
    targets = {g["target"] for g in summary}
    assert targets == {
        "openai:gpt-4o-mini",
        "anthropic:claude-haiku-4-5",
        "groq:llama-3.1-8b-instant",
    }
    for g in summary:
        # Every target ran (the provider's default temperature) and its schema was sent.
        assert g["temperature"] is None and g["skipped"] == 0, g
        assert g["schema_valid_rate"] == 1.0, g
    assert "default" in done.stdout


def test_readme_plain_test_runs_on_the_simulator(project: Path) -> None:
    (project / "test_greeting.py").write_text(block("README.md", "import pytest"))
    # The local target runs the embedded model; here only the simulated one is selected.
    done = _sh(
        f"{sys.executable} -m pytest -q test_greeting.py --llm-targets=openai:* --llm-out=run",
        project,
    )
    # The simulator echoes, so the French check fails: the call ran and was recorded.
    records = [json.loads(x) for x in (project / "run/results.jsonl").read_text().splitlines()]
    assert [r["target"] for r in records] == ["openai:gpt-4o-mini"], done.stdout
    assert records[0]["output"]


def test_ci_commands_save_gate_and_compare(project: Path) -> None:
    ci = block("ci.md", "# once, on the reference branch").split("\n\n")
    setup = "git init -q && git config user.email t@e && git config user.name t && "
    first = _sh(setup + ci[0], project)  # record the baseline, commit it
    assert first.returncode == 0, first.stdout + first.stderr
    assert (project / "baselines/main.json").is_file()
    # The pull-request line reads origin/main: here, a ref at the commit just made.
    _sh("git update-ref refs/remotes/origin/main HEAD", project)
    for paragraph in ci[1:3]:
        gate = _sh(paragraph, project)
        assert gate.returncode == 0, gate.stdout[-2000:] + gate.stderr  # replayed: no regression
        assert "gate: no regression" in gate.stdout
    runs = sorted((project / "reports/runs").iterdir())
    stored = ci[3].replace("reports/runs/20261124-153000-a1b2c3", str(runs[-2]))
    stored = stored.replace("reports/runs/20261125-091500-d4e5f6", str(runs[-1]))
    done = _sh(stored, project)
    assert done.returncode == 0 and "gate: no regression" in done.stdout, done.stderr

    # report.md: re-render one run, merge two.
    commands = block("report.md", "llm-harness report reports/runs/")
    # The third line merges the shards of a sharded run (--llm-shard); not made here.
    one, two, shards = commands.strip().splitlines()
    assert shards.startswith("llm-harness report shard-1")
    one = one.replace("reports/runs/20261124-153000-a1b2c3", str(runs[0]))
    two = two.replace("reports/runs/*-a1b2c3", str(runs[0])).replace(
        "reports/runs/*-d4e5f6", str(runs[1])
    )
    for command in (one, two):
        done = _sh(command, project)
        assert done.returncode == 0, done.stderr
    assert (project / "cmp/report.html").is_file()

    pytest.importorskip("pyarrow")
    code = block("report.md", "import json, pandas").replace("reports/runs/<run-id>", str(runs[0]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_target_fragments_load_as_suites(tmp_path: Path) -> None:
    fragments = [
        block("README.md", "targets:\n  - {id: my-ollama"),
        block("local.md", "targets:"),
        block("providers.md", "targets:"),
    ]
    for i, fragment in enumerate(fragments):
        data = yaml.safe_load(fragment)
        data.update(prompt={"user": "hi"}, cases=[{"id": "a"}])
        path = tmp_path / f"s{i}.yaml"
        path.write_text(yaml.safe_dump(data))
        suite = load_suite(path)
        assert len(suite.targets) == len(data["targets"])


def test_gate_settings_blocks_load(tmp_path: Path) -> None:
    from harness.gate import load_gate_settings

    toml = tmp_path / "toml"
    toml.mkdir()
    (toml / "pyproject.toml").write_text(block("ci.md", "[tool.llm-harness.gate]"))
    assert load_gate_settings(toml).suite_min_pass_rate == {"invoice-extraction": 0.9}
    ini = tmp_path / "ini"
    ini.mkdir()
    (ini / "tox.ini").write_text(block("ci.md", "[llm-harness:gate]"))
    assert load_gate_settings(ini).min_pass_rate == 0.7


def test_simulator_blocks_run(tmp_path: Path) -> None:
    openai = pytest.importorskip("openai")
    script = block("simulator.md", "seed: 7")
    config = SimConfig.from_mapping(yaml.safe_load(script))
    assert config.seed == 7
    code = block("simulator.md", "from harness.simulator import Simulator")
    # The block elides the calls (`...`) and the assertions on the stats: run it as written.
    exec(compile(code, "simulator.md", "exec"), {"openai": openai})


def test_readme_start_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for sdk in ("openai", "anthropic", "groq", "mistralai"):
        pytest.importorskip(sdk)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("BROWSER", "true")  # `view` opens the report with a no-op browser
    # Each line runs whatever the one before returned: the run exits 1 because the demo's
    # weaker models fail cells, and the user goes on to look at the report.
    done = _sh(block("README.md", "llm-harness init"), tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "wrote    evals/contacts.yaml" in done.stdout
    (run,) = (tmp_path / "reports/runs").iterdir()
    assert f"{run.name}  96 cells (96 ran)" in done.stdout  # `runs`
    assert done.stdout.rstrip().endswith(str((run / "report.html").resolve()))  # `view`
