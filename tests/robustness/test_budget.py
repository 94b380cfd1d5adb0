"""--llm-budget is a ceiling that gets used: never passed (dense prompts at concurrency 50,
and across pytest-xdist processes), every cell runs when the budget covers the suite, and a
run cut by it exits with status 7 saying how many cells did not run."""

from __future__ import annotations

from pathlib import Path

import pytest
from robustkit import project, run_pytest

from harness.calls.budget import BUDGET_EXIT_CODE, Ledger, input_token_bound
from harness.simulator import Simulator
from harness.types import Message, Request

pytest.importorskip("openai")

CASES = 120
DENSE = "!?;:" * 150  # punctuation: about a token per character, not per four


def dense_suite(cases: int = CASES) -> str:
    return (
        "name: dense\ntargets: [openai:gpt-4o-mini]\nmax_tokens: 20\n"
        f"prompt:\n  user: '{DENSE} {{{{ n }}}}'\ncases:\n"
        + "".join(f"  - {{id: c{i:03d}, vars: {{n: item{i}}}}}\n" for i in range(cases))
    )


def spent(records: list[dict[str, object]]) -> float:
    return sum(float(r.get("cost_usd") or 0.0) for r in records)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def full_cost(tmp_path_factory: pytest.TempPathFactory) -> float:
    """What the whole dense suite costs at the simulator's usage (no budget)."""
    root = project(tmp_path_factory.mktemp("full"), {"dense.yaml": dense_suite()})
    with Simulator() as sim:
        done = run_pytest(root, "--llm-report=false", "--llm-cache=off",
                          base_url=sim.base_url("openai"))
    assert done.code == 0, done.text[-2000:]
    cost = spent(done.records())
    assert cost > 0
    return cost


@pytest.mark.parametrize("extra", [("--llm-concurrency=50",), ("-n", "2")])
def test_the_budget_is_never_passed(tmp_path: Path, full_cost: float,
                                    extra: tuple[str, ...]) -> None:
    budget = full_cost / 3
    project(tmp_path, {"dense.yaml": dense_suite()})
    with Simulator() as sim:
        done = run_pytest(tmp_path, "--llm-report=false", "--llm-cache=off",
                          f"--llm-budget={budget}", *extra, base_url=sim.base_url("openai"))
    records = done.records()
    assert done.code == BUDGET_EXIT_CODE, done.text[-2000:]
    assert spent(records) <= budget
    cut = sum(1 for r in records if r.get("error_kind") == "BudgetExceeded")
    ran = sum(1 for r in records if r["status"] == "passed")
    assert cut > 0 and ran + cut == CASES
    assert f"budget: {cut} cells did not run" in done.text
    # The ceiling is used, not just respected: most of it is spent.
    assert spent(records) >= budget / 3


def test_a_budget_three_times_the_suite_runs_every_cell(tmp_path: Path,
                                                        full_cost: float) -> None:
    project(tmp_path, {"dense.yaml": dense_suite()})
    with Simulator() as sim:
        done = run_pytest(tmp_path, "--llm-report=false", "--llm-cache=off",
                          f"--llm-budget={3 * full_cost}", "--llm-concurrency=50",
                          base_url=sim.base_url("openai"))
    assert done.code == 0, done.text[-2000:]
    assert [r["status"] for r in done.records()] == ["passed"] * CASES


def test_the_input_bound_counts_bytes_not_characters_over_four() -> None:
    text = "é" * 100 + DENSE
    request = Request("openai", "m", (Message("user", text),), max_tokens=5)
    assert input_token_bound(request) >= len(text.encode())


def test_a_ledger_file_is_one_ledger_for_every_process(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    a, b = Ledger(1.0, path), Ledger(1.0, path)
    assert a.try_reserve(0.6) is True
    assert b.try_reserve(0.6) is False  # held by a: wait
    a.settle(0.6, 0.1)
    assert b.try_reserve(0.6) is True
    assert a.try_reserve(0.5) is False
    b.settle(0.6, 0.6)
    assert a.try_reserve(0.5) is None  # nothing held and it cannot fit: refused
    assert a.totals() == pytest.approx((0.7, 0.0))
