"""Suites are found wherever pytest is run, however pytest picks its rootdir, and relative
option paths are read from the folder the command ran in (the issue's exact sequence)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from harness.simulator import Simulator

pytest.importorskip("openai")

SUITE = """\
name: capitals
targets: [openai:my-finetune]
max_tokens: 20
prompt:
  user: "Capital of {{ country }}?"
cases:
  - {id: fr, vars: {country: France}}
  - {id: jp, vars: {country: Japan}}
"""

PRICES = "openai:\n  my-finetune: {input: 1000.0, output: 1000.0, source: contract, date: 2026-11-01}\n"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator({"default": {"latency_ms": 1, "canned_default": "Paris."}}) as simulator:
        monkeypatch.setenv("OPENAI_BASE_URL", simulator.base_url("openai"))
        monkeypatch.setenv("OPENAI_API_KEY", "sk-sim")
        yield simulator


def test_the_same_cells_are_collected_once_the_cache_dir_exists(
    pytester: pytest.Pytester, sim: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pytester.makefile(".yaml", **{"evals/capitals": SUITE})
    pytester.makefile(".yaml", prices=PRICES)
    # Outside the project: once these exist, pytest's rootdir is their common ancestor with
    # evals/, not the project.
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    args = ["evals/", "--llm-out", str(elsewhere / "run"), "--llm-cache-dir",
            str(elsewhere / "cache"), "--llm-prices", "prices.yaml", "--llm-report=false"]
    for attempt in range(3):
        result = pytester.runpytest_subprocess(*args)
        result.assert_outcomes(passed=2)
        if attempt:
            assert "rootdir: " + str(pytester.path) not in result.stdout.str()  # the trap is set
    records = [json.loads(x) for x in (elsewhere / "run/results.jsonl").read_text().splitlines()]
    assert len(records) == 6
    # prices.yaml was read from the project, not from the rootdir: the finetune is priced.
    assert all(r["cost_if_live_usd"] and r["cost_if_live_usd"] > 0 for r in records)
    assert sim.request_count() == 2  # the second and third runs replayed from the cache


def test_suites_are_found_from_a_subfolder_of_the_project(
    pytester: pytest.Pytester, sim: Simulator
) -> None:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\n")
    pytester.makefile(".yaml", **{"evals/capitals": SUITE})
    sub = pytester.mkdir("sub")
    (sub / "prices.yaml").write_text(PRICES)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        result = pytester.runpytest_subprocess(
            str(pytester.path / "evals"), "--llm-prices=prices.yaml", "--llm-report=false"
        )
    result.assert_outcomes(passed=2)
    # The run directory belongs to the project (the ini file's folder), not to sub/.
    (run,) = (pytester.path / "reports/runs").iterdir()
    records = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert all(r["cost_if_live_usd"] > 0 for r in records)  # sub/prices.yaml was read
