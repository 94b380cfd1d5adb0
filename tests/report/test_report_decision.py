"""The report's Decision section and the quality/cost chart: a best target per metric with
its numbers, honest about overlapping intervals; idle targets listed once; legend labels;
dollar ticks; a sane axis when everything was free."""

from __future__ import annotations

from harness.report.charts import Point, quality_vs_cost
from harness.report.decision import decide
from harness.report.html import render_html
from harness.report.views import overall_groups
from harness.types import Result


def cells(
    target: str, n: int, passed: int, cost: float, latency: float, status: str = ""
) -> list[Result]:
    provider, _, model = target.partition(":")
    out = []
    for i in range(n):
        ok = i < passed
        out.append(
            Result(
                run_id="r",
                suite="s",
                case_id=f"c{i}",
                target=target,
                provider=provider,
                model=model,
                temperature=None,
                repeat=0,
                status=status or ("passed" if ok else "failed"),  # type: ignore[arg-type]
                passed=ok and not status,
                latency_ms=None if status else latency + i,
                cost_usd=None if status else cost,
                cost_if_live_usd=None if status else cost,
                skip_reason="ANTHROPIC_API_KEY is not set" if status else None,
            )
        )
    return out


def picks(results: list[Result]) -> dict[str, tuple[str, str, str]]:
    d = decide(overall_groups(results), results)
    return {p.metric: (p.label, p.value, p.detail) for p in d.picks}


def test_each_metric_has_its_best_target_with_numbers() -> None:
    results = (
        cells("openai:big", 40, 38, cost=0.01, latency=900)
        + cells("groq:small", 40, 36, cost=0.0005, latency=150)
        + cells("mistral:mid", 40, 20, cost=0.002, latency=400)
        + cells("anthropic:claude", 40, 0, cost=0, latency=0, status="skipped")
    )
    got = picks(results)
    assert got["quality"][0] == "openai:big" and got["quality"][1].startswith("95.0% pass (")
    # 95% vs 90% over 40 cases: the intervals overlap, so no win is claimed.
    assert "not a clear win" in got["quality"][2] and "groq:small" in got["quality"][2]
    assert got["cost"][:2] == ("groq:small", "$0.5000 per 1,000 calls")
    assert got["latency"][0] == "groq:small"
    # Not clearly worse than the best and far cheaper: the best value.
    assert got["value"][0] == "groq:small" and "within 10 points of openai:big" in got["value"][2]
    d = decide(overall_groups(results), results)
    assert [(n.label, n.cells, n.reason) for n in d.not_run] == [
        ("anthropic:claude", 40, "ANTHROPIC_API_KEY is not set")
    ]


def test_a_separated_lead_is_called_clear_and_free_targets_say_so() -> None:
    results = cells("local:a", 200, 190, cost=0.0, latency=50) + cells(
        "local:b", 200, 100, cost=0.0, latency=40
    )
    got = picks(results)
    assert got["quality"][0] == "local:a" and got["quality"][2].startswith("clearly ahead")
    assert got["cost"][:2] == ("any", "$0")
    assert got["value"][0] == "local:a"


def test_best_value_does_not_trail_the_best_by_more_than_ten_points() -> None:
    # 12 cases: wide intervals that overlap, but 58% is not "as good as" 100%.
    results = (
        cells("anthropic:claude", 12, 12, cost=0.0002, latency=900)
        + cells("openai:mini", 12, 11, cost=0.00003, latency=700)
        + cells("groq:small", 12, 7, cost=0.000005, latency=150)
    )
    got = picks(results)
    assert got["value"][0] == "openai:mini"


def test_the_report_opens_with_the_decision_and_drops_idle_rows() -> None:
    results = cells("openai:big", 10, 9, cost=0.01, latency=900) + cells(
        "anthropic:claude", 10, 0, cost=0, latency=0, status="skipped"
    )
    html = render_html(results, {"run_id": "r"}, overall_groups(results))
    main = html[html.index("<main>") :]
    assert main.index('id="decision"') < main.index('id="run"')
    decision = main[: main.index('id="run"')]
    assert (
        "Not run:" in decision
        and "anthropic:claude (10 cells: ANTHROPIC_API_KEY is not set)" in decision
    )
    board = main[main.index('id="board"') : main.index("</table>", main.index('id="board"'))]
    assert "anthropic:claude" not in board and "openai:big" in board


def test_chart_names_targets_in_a_legend_and_keeps_a_free_axis_sane() -> None:
    points = [Point("local:a", 0.0, 0.9), Point("local:b", 0.0, 0.9), Point("local:c", 0.0, 0.5)]
    svg = quality_vs_cost(points)
    assert svg is not None
    # Each label once (the legend), even for two targets on the same spot.
    for label in ("local:a", "local:b", "local:c"):
        assert svg.count(label) == 1, label
    assert "every target cost $0" in svg and "−0.04" not in svg and "-0.04" not in svg
    priced = quality_vs_cost([Point("x:a", 0.02, 0.9), Point("x:b", 0.05, 0.7)])
    assert priced is not None and "$0.02" in priced
