"""The report's top section: which target to pick, for quality, cost, latency and value.

Computed from the per-(target, temperature) groups over all suites. Each pick carries its
numbers and says whether it is a clear win: a pass-rate lead whose 95% interval overlaps the
runner-up's is reported as such, not as a winner. Best value is the cheapest target on the
quality/cost Pareto frontier whose pass rate is within 10 points of the best one's and
not clearly below it. Targets
that ran nothing are listed once, with the reason their cells were skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.money import usd
from harness.report.views import cost_per_1k_calls, fmt_ci, fmt_ms, fmt_rate, temp_label
from harness.results.stats import GroupStats
from harness.types import Result

#: Best value may trail the best pass rate by at most this much (10 points).
VALUE_MARGIN = 0.10


@dataclass
class Pick:
    #: "quality", "cost", "latency" or "value".
    metric: str
    label: str
    #: The figure that decided it, formatted ("92.0% pass (80–97%)").
    value: str
    #: How it compares with the runner-up, or why it is the pick.
    detail: str


@dataclass
class NotRun:
    label: str
    cells: int
    reason: str


@dataclass
class Decision:
    picks: list[Pick] = field(default_factory=list)
    not_run: list[NotRun] = field(default_factory=list)


@dataclass
class _Candidate:
    label: str
    g: GroupStats
    cost: float | None

    @property
    def ci(self) -> tuple[float, float]:
        ci = self.g.pass_rate_ci
        rate = self.g.pass_rate or 0.0
        return (ci[0], ci[1]) if ci else (rate, rate)


def _labels(groups: Sequence[GroupStats]) -> dict[tuple[str, float | None], str]:
    temps: dict[str, set[float | None]] = {}
    for g in groups:
        temps.setdefault(g.target, set()).add(g.temperature)
    return {
        (g.target, g.temperature): g.target
        if len(temps[g.target]) == 1
        else f"{g.target} · t={temp_label(g.temperature)}"
        for g in groups
    }


def _quality(c: _Candidate) -> str:
    return f"{fmt_rate(c.g.pass_rate)} pass ({fmt_ci(c.ci)})"


def decide(overall: Sequence[GroupStats], results: Sequence[Result]) -> Decision:
    decision = Decision()
    labels = _labels(overall)
    ran = [g for g in overall if g.cells - g.skipped > 0]
    reasons: dict[str, Counter[str]] = {}
    for r in results:
        if r.status == "skipped":
            reasons.setdefault(r.target, Counter())[r.skip_reason or "skipped"] += 1
    ran_targets = {g.target for g in ran}
    idle: dict[str, NotRun] = {}
    for g in overall:
        if g.cells - g.skipped > 0:
            continue
        # A target none of whose cells ran is listed once; one that ran at another
        # temperature is listed with that temperature.
        label = labels[(g.target, g.temperature)] if g.target in ran_targets else g.target
        entry = idle.setdefault(label, NotRun(label, 0, ""))
        entry.cells += g.cells
        common = reasons.get(g.target, Counter()).most_common(1)
        entry.reason = common[0][0] if common else "every cell was skipped"
    decision.not_run = list(idle.values())

    cands = [
        _Candidate(labels[(g.target, g.temperature)], g, cost_per_1k_calls(g))
        for g in ran
        if g.pass_rate is not None
    ]
    if not cands:
        return decision
    best_q = _best_quality(cands)
    decision.picks.append(best_q)
    best = next(c for c in cands if c.label == best_q.label)
    decision.picks.append(_best_cost(cands))
    latency = _best_latency(cands)
    if latency is not None:
        decision.picks.append(latency)
    decision.picks.append(_best_value(cands, best))
    return decision


def _best_quality(cands: list[_Candidate]) -> Pick:
    ranked = sorted(
        cands,
        key=lambda c: (-(c.g.pass_rate or 0.0), c.cost if c.cost is not None else float("inf")),
    )
    best = ranked[0]
    if len(ranked) == 1:
        return Pick("quality", best.label, _quality(best), "the only target that ran")
    second = ranked[1]
    if second.ci[1] >= best.ci[0]:
        tied = [c.label for c in ranked[1:] if c.ci[1] >= best.ci[0]]
        detail = (
            f"not a clear win: the 95% intervals overlap with {', '.join(tied)} "
            f"(runner-up {_quality(second)}); more cases or repeats would separate them"
        )
    else:
        detail = f"clearly ahead of the runner-up {second.label}, {_quality(second)}"
    return Pick("quality", best.label, _quality(best), detail)


def _best_cost(cands: list[_Candidate]) -> Pick:
    priced = sorted((c for c in cands if c.cost is not None), key=lambda c: c.cost or 0.0)
    if not priced:
        return Pick("cost", "-", "unpriced", "no target has a price in the price table")
    best = priced[0]
    if all((c.cost or 0.0) == 0 for c in priced):
        return Pick("cost", "any", "$0", "every priced target cost nothing (a local model)")
    value = f"{usd(best.cost)} per 1,000 calls"
    if len(priced) == 1:
        return Pick("cost", best.label, value, "the only priced target")
    second = priced[1]
    if best.cost == 0:
        detail = f"free; the next, {second.label}, costs {usd(second.cost)}"
    else:
        ratio = (second.cost or 0.0) / (best.cost or 1.0)
        detail = f"{ratio:.1f}x cheaper than {second.label} ({usd(second.cost)})"
    return Pick("cost", best.label, value, detail)


def _best_latency(cands: list[_Candidate]) -> Pick | None:
    timed = sorted(
        (c for c in cands if c.g.latency_p50_ms is not None),
        key=lambda c: c.g.latency_p50_ms or 0.0,
    )
    if not timed:
        return None
    best = timed[0]
    value = f"p50 {fmt_ms(best.g.latency_p50_ms)} ms, p95 {fmt_ms(best.g.latency_p95_ms)} ms"
    if len(timed) == 1:
        return Pick("latency", best.label, value, "the only timed target")
    second = timed[1]
    return Pick(
        "latency",
        best.label,
        value,
        f"next: {second.label}, p50 {fmt_ms(second.g.latency_p50_ms)} ms",
    )


def _best_value(cands: list[_Candidate], best: _Candidate) -> Pick:
    from harness.report.charts import Point, pareto_frontier

    points = [Point(c.label, c.cost, c.g.pass_rate) for c in cands if c.cost is not None]
    frontier = {p.label for p in pareto_frontier(points)}
    # Close to the best (within VALUE_MARGIN, and not clearly below it by the intervals), at
    # the lowest cost. The margin keeps a small sample's wide intervals from calling a much
    # weaker target "as good".
    floor = (best.g.pass_rate or 0.0) - VALUE_MARGIN
    good = [
        c
        for c in cands
        if c.label in frontier
        and c.cost is not None
        and (c.g.pass_rate or 0.0) >= floor
        and c.ci[1] >= best.ci[0]
    ]
    if not good:
        return Pick("value", best.label, _quality(best), "no priced target: the best quality")
    pick = min(good, key=lambda c: c.cost or 0.0)
    value = f"{_quality(pick)} at {usd(pick.cost)} per 1,000 calls"
    if pick.label == best.label:
        detail = "the best quality is also the cheapest target that reaches it"
    else:
        detail = (
            f"within 10 points of {best.label} ({_quality(best)}, "
            f"{usd(best.cost)} per 1,000 calls) and not clearly below it; on the Pareto "
            "frontier"
        )
    return Pick("value", pick.label, value, detail)
