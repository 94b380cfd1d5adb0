"""Compat ports: promptfoo-style example configs rewritten as suites, run on the simulator
through the plugin (pytester subprocess runs, the real SDKs, loopback only)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from compatkit import PROVIDERS, Run

from harness.simulator import Simulator


@pytest.fixture
def port(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Run]]:
    """port(files, sim_config, *args): write the files, run the evals folder, read the run."""
    sims: list[Simulator] = []

    def run(files: dict[str, str], sim_config: dict[str, Any], *args: str) -> Run:
        sim = Simulator(sim_config)
        sim.start()
        sims.append(sim)
        for provider in PROVIDERS:
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", sim.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", sim.base_url("azure"))
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", "sk-sim")
        monkeypatch.setenv("OPENAI_API_VERSION", "2024-10-21")
        for name, text in files.items():
            path = pytester.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        out = pytester.path / f"run{len(sims)}"
        result = pytester.runpytest_subprocess(
            "evals", f"--llm-out={out}", "-p", "no:cacheprovider", "--llm-report=false", *args
        )
        records_file = out / "results.jsonl"
        records = (
            [json.loads(line) for line in records_file.read_text().splitlines()]
            if records_file.exists() else []
        )
        summary_file = out / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else []
        return Run(result, records, summary)

    yield run
    for sim in sims:
        sim.stop()
