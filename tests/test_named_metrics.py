"""Named and derived metrics aggregated per group."""

from __future__ import annotations

from typing import Any

from harness.results.named_metrics import aggregate, metrics_text
from harness.types import Result


def result(case: str, scores: list[dict[str, Any]], *, target: str = "t", status: str = "passed",
           derived: dict[str, str] | None = None) -> Result:
    return Result(run_id="r", suite="s", case_id=case, target=target, provider="openai",
                  model="m", temperature=0.0, repeat=0, status=status,  # type: ignore[arg-type]
                  passed=status == "passed", scores=scores, derived_metrics=derived or {})


def hit(metric: str, passed: bool, value: Any = None) -> dict[str, Any]:
    return {"name": "x", "passed": passed, "value": value, "reason": "", "weight": 1.0,
            "metric": metric}


def test_counts_means_and_groups() -> None:
    table = aggregate([
        result("a", [hit("acc", True), hit("sim", True, 0.9)]),
        result("b", [hit("acc", False), hit("sim", False, 0.3)]),
        result("c", [hit("acc", True)], target="u"),
        result("d", [hit("acc", True)], status="error"),  # errors have no scores to count
        result("e", [{"name": "x", "passed": True, "value": None, "reason": "", "weight": 1}]),
    ])
    assert table[("s", "t", 0.0, "default")]["acc"] == {"passed": 1, "total": 2, "pass_rate": 0.5,
                                             "mean": 0.5}
    assert table[("s", "t", 0.0, "default")]["sim"]["mean"] == 0.6
    assert table[("s", "u", 0.0, "default")]["acc"]["passed"] == 1
    assert "s t t0: acc 1/2 (50%), sim 1/2 (50%)" in metrics_text(table)


def test_derived_in_order_and_errors_per_group() -> None:
    derived = {"p": "tp / (tp + fp)", "double": "2 * p"}
    table = aggregate([
        result("a", [hit("tp", True), hit("fp", False)], derived=derived),
        result("b", [hit("tp", False), hit("fp", True)], derived=derived),
        result("c", [hit("tp", False), hit("fp", False)], target="u", derived=derived),
    ])
    assert table[("s", "t", 0.0, "default")]["p"]["derived"] == 0.5
    assert table[("s", "t", 0.0, "default")]["double"]["derived"] == 1.0
    zero = table[("s", "u", 0.0, "default")]["p"]
    assert zero["derived"] is None and "ZeroDivisionError" in zero["error"]
    assert "p n/a (ZeroDivisionError" in metrics_text(table)
