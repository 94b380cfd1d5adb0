"""Baselines from git (``git:REF:PATH``) and version-1 baseline files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from gate_helpers import cell, run

from harness.errors import ConfigError
from harness.gate import GateSettings, compare, load_baseline, save_baseline
from harness.gate.compare import V1_REASON

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

META = {"run_id": "r1", "git_commit": "0123456789abcdef"}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q", "-b", "main")
    save_baseline(run([True] * 8 + [False] * 2), tmp_path / "baselines" / "main.json", META)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "baseline")
    # The work tree changes afterwards: git: must read the committed file, not this one.
    (tmp_path / "baselines" / "main.json").write_text("not json", "utf-8")
    return tmp_path


def test_git_baseline_is_read_at_the_ref_without_the_work_tree(repo: Path) -> None:
    baseline = load_baseline("git:main:baselines/main.json", cwd=repo)
    assert len(baseline.cells) == 10
    assert sum(c.passed for c in baseline.cells) == 8
    assert baseline.source == "git:main:baselines/main.json"
    assert (repo / "baselines" / "main.json").read_text("utf-8") == "not json"


@pytest.mark.parametrize(
    ("spec", "problem", "fix"),
    [
        ("git:nope:baselines/main.json", "git ref 'nope' not found", "git fetch origin nope"),
        ("git:main:baselines/other.json", "no file 'baselines/other.json' at main", "ls-tree"),
        ("git:main", "not a git baseline spec", "git:origin/main:baselines/main.json"),
    ],
)
def test_git_baseline_problems_say_what_and_how(
    repo: Path, spec: str, problem: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_baseline(spec, cwd=repo)
    text = str(info.value)
    assert text.startswith(spec) and problem in text and fix in text


def test_git_baseline_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not inside a git repository"):
        load_baseline("git:main:b.json", cwd=tmp_path)


def test_plugin_refuses_a_missing_git_ref_before_any_call(
    pytester: pytest.Pytester,
) -> None:
    _git(pytester.path, "init", "-q", "-b", "main")
    pytester.makefile(
        ".yaml",
        **{"evals/s": "targets: [openai:gpt-4o-mini]\nprompt: {user: hi}\ncases: [{id: a}]\n"},
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-baseline=git:nope:b.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-baseline: git:nope:b.json: git ref 'nope' not found*"])


def _as_version_1(path: Path) -> None:
    """Rewrite a baseline the way version 1 wrote it: one fingerprint, no variants."""
    data = json.loads(path.read_text("utf-8"))
    for c in data["cells"]:
        for key in ("prompt", "test_fingerprint", "prompt_fingerprint"):
            c.pop(key)
    for g in data["groups"]:
        g.pop("prompt")
    data.pop("prompts")
    data["version"] = 1
    path.write_text(json.dumps(data, sort_keys=True), "utf-8")


def test_version_1_baseline_is_read_and_a_prompt_change_there_is_not_comparable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.json"
    save_baseline(run([True] * 20), path, META)
    _as_version_1(path)
    baseline = load_baseline(path)
    assert baseline.version == 1
    assert {c.prompt for c in baseline.cells} == {"default"}
    # Same combined fingerprint: compared as before.
    same = [cell(f"c{i:03d}", True, test_fingerprint="t", prompt_fingerprint="p")
            for i in range(20)]
    assert compare(baseline, same, GateSettings()).groups[0].paired_cases == 20
    # A changed prompt changes the combined fingerprint: with a version-1 baseline that is
    # all it can tell, so the cases are not comparable, with the way out in the reason.
    changed = [cell(f"c{i:03d}", False, fingerprint="new", test_fingerprint="t")
               for i in range(20)]
    (group,) = compare(baseline, changed, GateSettings()).groups
    assert len(group.not_comparable_cases) == 20
    assert group.not_comparable_reason == V1_REASON
    assert "regenerate the baseline" in V1_REASON
