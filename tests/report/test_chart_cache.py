"""Drawn charts kept for a rerun that shows the same numbers (harness.report.chartcache):
the same input is not drawn twice, a different input is, and an entry is used only when it
is a chart (the cache folder is a place others can write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.report import charts
from harness.report.chartcache import ChartCache, safe_svg

POINTS = [charts.Point("openai:a", 0.10, 0.90), charts.Point("groq:b", 0.30, 0.95)]


class Counting:
    """A chart function that counts its drawings."""

    def __init__(self) -> None:
        self.calls = 0
        self.__module__ = charts.quality_vs_cost.__module__
        self.__qualname__ = charts.quality_vs_cost.__qualname__

    def __call__(self, data: Any) -> str | None:
        self.calls += 1
        return charts.quality_vs_cost(data)


def test_every_chart_the_report_draws_passes_the_entry_check() -> None:
    drawn = [
        charts.quality_vs_cost(POINTS),
        charts.latency_distribution([("openai:a", [100.0, 120.0, 250.0]), ("groq:b", [90.0])]),
        charts.schema_validity([("openai:a", 0.9, (0.8, 0.95), 10)]),
    ]
    for svg in drawn:
        assert svg is not None and safe_svg(svg)


def test_the_same_chart_of_the_same_numbers_is_drawn_once(tmp_path: Path) -> None:
    chart = Counting()
    first = ChartCache(tmp_path).drawn(chart, POINTS)
    again = ChartCache(tmp_path).drawn(chart, POINTS)
    assert chart.calls == 1 and again == first
    other = ChartCache(tmp_path).drawn(chart, [*POINTS, charts.Point("mistral:c", 0.2, 0.5)])
    assert chart.calls == 2 and other != first


@pytest.mark.parametrize(
    "planted",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><g onload="alert(1)"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<use xlink:href="https://example.com/x.svg#a"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://e.com/x.css);</style>'
        "</svg>",
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>hi</p></foreignObject></svg>',
        '<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
        "<html><body>not a chart</body></html>",
        "not xml at all",
    ],
)
def test_an_entry_that_is_not_a_plain_chart_is_drawn_again_and_replaced(
    tmp_path: Path, planted: str
) -> None:
    chart = Counting()
    cache = ChartCache(tmp_path)
    drawn = cache.drawn(chart, POINTS)
    (entry,) = tmp_path.glob("*.svg")
    entry.write_text(planted)
    assert not safe_svg(planted)
    assert cache.drawn(chart, POINTS) == drawn
    assert chart.calls == 2
    assert entry.read_text() == drawn  # replaced


def test_a_run_keeps_its_charts_in_the_cache_folder_and_a_rerun_reuses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    from harness.report import write_reports
    from harness.results.stats import summarize
    from harness.types import Result

    results = [
        Result(run_id="r", suite="s", case_id=f"c{i}", target="openai:a", provider="openai",
               model="a", temperature=None, repeat=0, status="passed", passed=True,
               output="ok", latency_ms=100.0 + i, cost_usd=0.001, input_tokens=3,
               output_tokens=2)
        for i in range(5)
    ]
    folder = tmp_path / "charts"
    out1 = write_reports(tmp_path / "one", results, {}, summarize(results), exports=False,
                         chart_cache=folder)
    kept = sorted(p.name for p in folder.glob("*.svg"))
    assert kept
    drawn: list[str] = []
    for name in ("quality_vs_cost", "latency_distribution", "schema_validity"):
        real = getattr(charts, name)
        def counting(data: Any, real: Any = real) -> str | None:
            svg: str | None = real(data)
            if svg is not None:  # a chart with nothing to show returns before drawing
                drawn.append(real.__name__)
            return svg

        counting = functools.wraps(real)(counting)
        monkeypatch.setattr(charts, name, counting)
    out2 = write_reports(tmp_path / "two", results, {}, summarize(results), exports=False,
                         chart_cache=folder)
    assert sorted(p.name for p in folder.glob("*.svg")) == kept
    assert drawn == []  # every chart came from the folder
    assert out1["report.html"].read_text() == out2["report.html"].read_text()
