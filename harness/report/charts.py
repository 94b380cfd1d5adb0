"""Charts for report.html, drawn with matplotlib (Agg, imported lazily) as inline SVG.

Each function takes plain numbers and returns an ``<svg>`` string (no XML prolog) ready to
embed, or None when there is nothing to draw. Text stays text (svg.fonttype none), which
keeps the file small and the labels searchable.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from harness.money import usd_tick

PASS = "#2e7d32"
FAIL = "#c62828"
ACCENT = "#1f5fa8"
MUTED = "#9e9e9e"


@dataclass
class Point:
    """One target x temperature on the quality/cost plane; cost None means unpriced."""

    label: str
    cost_per_1k: float | None
    pass_rate: float | None


#: Chart style, applied only while a chart is drawn and saved (never to the user's plots).
RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "llm-harness",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    # Labels are target ids and suite names: text, never mathtext ("$" in an id broke it).
    "text.parse_math": False,
}


@contextlib.contextmanager
def _figure(width: float, height: float) -> Iterator[tuple[Any, Any]]:
    """A Figure and its axes, made without pyplot: nothing joins pyplot's figure registry
    and no GUI backend is involved, whatever backend the user's own code picked."""
    import matplotlib
    from matplotlib.figure import Figure

    # Set and restore only our keys, so the user's own settings stay as they were.
    rc: Any = matplotlib.rcParams
    saved = {key: rc[key] for key in RC}
    rc.update(RC)
    try:
        fig = Figure(figsize=(width, height))
        yield fig, fig.subplots()
    finally:
        rc.update(saved)


_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


def _to_svg(fig: Any, chart_id: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = _PROLOG.sub("", buf.getvalue(), count=1)
    # Several charts share one page: give each its own id namespace so clip paths and
    # marker definitions never collide.
    svg = re.sub(r'id="([^"]+)"', rf'id="{chart_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{chart_id}-\1"', svg)
    return svg.replace("<svg ", '<svg role="img" ', 1)


def pareto_frontier(points: Sequence[Point]) -> list[Point]:
    """Priced points no other point beats on both cost (lower) and pass rate (higher)."""
    priced = [p for p in points if p.cost_per_1k is not None and p.pass_rate is not None]
    priced.sort(key=lambda p: (p.cost_per_1k, -(p.pass_rate or 0.0)))
    frontier: list[Point] = []
    best = -1.0
    for p in priced:
        assert p.pass_rate is not None
        if p.pass_rate > best:
            frontier.append(p)
            best = p.pass_rate
    return frontier


#: Distinct marker shapes, so targets stay apart in the legend even in grey print.
_MARKERS = "osD^vP*Xph<>"


def quality_vs_cost(points: Sequence[Point]) -> str | None:
    """Pass rate against cost per 1,000 calls. Targets are named in a legend beside the
    plot, never as text at the points, so labels cannot overlap however close they sit."""
    priced = [p for p in points if p.cost_per_1k is not None and p.pass_rate is not None]
    if not priced:
        return None
    from matplotlib.ticker import FuncFormatter

    frontier = pareto_frontier(priced)
    on_frontier = {id(p) for p in frontier}
    import matplotlib

    colors = matplotlib.colormaps["tab10"].colors  # type: ignore[attr-defined]
    with _figure(7.5, 4.2) as (fig, ax):
        costs = [p.cost_per_1k or 0.0 for p in priced]
        lo, hi = min(costs), max(costs)
        log = lo > 0 and hi / lo > 20
        if log:
            ax.set_xscale("log")
        for i, p in enumerate(priced):
            front = id(p) in on_frontier
            ax.scatter(
                [p.cost_per_1k or 0.0],
                [(p.pass_rate or 0.0) * 100],
                s=52 if front else 36,
                marker=_MARKERS[i % len(_MARKERS)],
                color=colors[i % len(colors)],
                edgecolor="black" if front else "none",
                linewidth=1.0,
                zorder=3,
                label=p.label + (" (frontier)" if front else ""),
            )
        if len(frontier) > 1:
            ax.step(
                [p.cost_per_1k for p in frontier],
                [(p.pass_rate or 0.0) * 100 for p in frontier],
                where="post",
                color=ACCENT,
                linewidth=1.0,
                linestyle="--",
                zorder=2,
                label="Pareto frontier",
            )
        if hi == 0:
            # Everything was free: one tick at $0, not an axis from -$0.04 to +$0.04.
            ax.set_xlim(-1, 1)
            ax.set_xticks([0])
            ax.set_xlabel("cost per 1,000 calls (every target cost $0)")
        else:
            if not log:
                ax.set_xlim(0, hi * 1.1)
            ax.set_xlabel("cost per 1,000 calls (USD, as if live)")
        ax.xaxis.set_major_formatter(FuncFormatter(usd_tick))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize=7.5,
            borderaxespad=0,
        )
        ax.set_ylabel("pass rate (%)")
        ax.set_ylim(-3, 105)
        ax.grid(alpha=0.25)
        ax.set_title("Quality vs cost (frontier outlined)", loc="left", fontsize=10)
        return _to_svg(fig, "chart-cost")


def _horizontal_box_kwargs(labels: list[str]) -> dict[str, Any]:
    """matplotlib renamed boxplot's vert/labels (3.9, 3.10); speak whichever is installed."""
    import matplotlib

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    if (major, minor) >= (3, 10):
        return {"orientation": "horizontal", "tick_labels": labels}
    if (major, minor) >= (3, 9):
        return {"vert": False, "tick_labels": labels}
    return {"vert": False, "labels": labels}


def latency_distribution(series: Sequence[tuple[str, Sequence[float]]]) -> str | None:
    data = [(label, list(values)) for label, values in series if values]
    if not data:
        return None
    with _figure(7.5, 0.9 + 0.42 * len(data)) as (fig, ax):
        values = [v for _, v in data]
        ax.boxplot(
            values,
            **_horizontal_box_kwargs([label for label, _ in data]),
            whis=(5, 95),
            showfliers=False,
            widths=0.55,
            medianprops={"color": FAIL},
            patch_artist=True,
            boxprops={"facecolor": "#dbe7f5", "edgecolor": ACCENT},
        )
        everything = [x for v in values for x in v]
        lo, hi = min(everything), max(everything)
        if lo > 0 and hi / lo > 30:
            ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("latency (ms); box: p25–p75, line: median, whiskers: p5–p95")
        ax.grid(axis="x", alpha=0.25)
        ax.set_title("Latency distribution per target", loc="left", fontsize=10)
        return _to_svg(fig, "chart-latency")


def schema_validity(
    rows: Sequence[tuple[str, float, tuple[float, float], int]],
) -> str | None:
    """rows: (label, valid rate, (ci low, ci high), cells checked)."""
    if not rows:
        return None
    with _figure(7.5, 0.9 + 0.42 * len(rows)) as (fig, ax):
        ys = list(range(len(rows)))
        rates = [r[1] * 100 for r in rows]
        err_lo = [max(0.0, (r[1] - r[2][0]) * 100) for r in rows]
        err_hi = [max(0.0, (r[2][1] - r[1]) * 100) for r in rows]
        colors = [PASS if r[1] >= 0.95 else ("#f9a825" if r[1] >= 0.8 else FAIL) for r in rows]
        ax.barh(ys, rates, color=colors, alpha=0.75, height=0.55)
        ax.errorbar(
            rates, ys, xerr=[err_lo, err_hi], fmt="none", ecolor="black", capsize=3, linewidth=1
        )
        for y, r in zip(ys, rows, strict=True):
            ax.text(101, y, f"{r[1] * 100:.0f}% of {r[3]}", va="center", fontsize=7.5)
        ax.set_yticks(ys, [r[0] for r in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, 115)
        ax.set_xlabel("schema-valid answers (%), 95% Wilson interval")
        ax.grid(axis="x", alpha=0.25)
        ax.set_title("Schema validity", loc="left", fontsize=10)
        return _to_svg(fig, "chart-schema")


def finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]
