"""Installing llm-harness must not slow down every pytest run of a project: the plugin module
loads the pipeline (runner, scorers, suite loader, SDKs) only when a suite or the `llm`
fixture needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "harness.calls.runner",
    "harness.scoring",
    "harness.suite.loader",
    "harness.gate",
    "jsonschema",
    "pydantic",
    "jinja2",
    "diskcache",
    "openai",
    "pandas",
    "matplotlib",
)


def test_importing_the_plugin_leaves_the_pipeline_unloaded() -> None:
    code = (
        "import sys, harness.pytest_plugin\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
