"""docs/ci.md and the example workflow stay in step with the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from harness.config import OPTIONS
from harness.gate import GATE_EXIT_CODE
from harness.gate.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def test_every_gate_setting_is_documented() -> None:
    text = (ROOT / "docs" / "ci.md").read_text("utf-8")
    for name in SETTINGS:
        assert f"| `{name}` |" in text, f"{name} missing from the settings table"
    assert f"| **{GATE_EXIT_CODE}** |" in text


def test_example_workflow_uses_real_options_and_the_documented_steps() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text("utf-8"))
    steps = workflow["jobs"]["evals"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/cache/restore@") for u in uses)
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save@"))
    assert save["if"] == "always()" and save["with"]["path"] == ".llm-cache"
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "GITHUB_STEP_SUMMARY" in scripts and "summary.md" in scripts
    flags = set(re.findall(r"--llm-[a-z-]+", scripts))
    known = {o.cli for o in OPTIONS}
    assert flags and flags <= known, flags - known
    assert f"{GATE_EXIT_CODE})" in scripts
