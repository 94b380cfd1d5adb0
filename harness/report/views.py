"""Report view model shared by the HTML and Markdown renderers: leaderboard rows, failure
groups, cache share and run metadata, computed once from results and GroupStats.

GroupStats gains fields over time; every field beyond the original set is read with
``getattr`` and a default so an older or newer stats module renders alike.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.money import usd
from harness.results.stats import GroupStats, summarize
from harness.types import Result

ALL_SUITES = "(all suites)"
UNPRICED = "unpriced"


def temp_label(t: float | None) -> str:
    return "default" if t is None else f"{t:g}"


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def fmt_ci(ci: Sequence[float] | None) -> str:
    if not ci:
        return ""
    return f"{ci[0] * 100:.0f}–{ci[1] * 100:.0f}%"


def fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:,.0f}"


def fmt_num(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


@dataclass
class LeaderRow:
    """One leaderboard line: a (suite, target, temperature) group, formatted and sortable."""

    suite: str
    target: str
    temperature: str
    cells: int
    ran: int
    pass_rate: float | None
    pass_ci: tuple[float, float] | None
    schema_rate: float | None
    schema_ci: tuple[float, float] | None
    schema_checked: int
    latency_p50: float | None
    latency_p95: float | None
    ttft_p50: float | None
    ttft_p95: float | None
    tokens_per_s: float | None
    cost_per_1k: float | None
    unpriced: bool
    cost_usd: float
    error_rate: float | None
    retry_rate: float | None
    cached: int
    #: Cases whose repeats disagree (some passed, some not).
    flaky: int = 0
    #: Intervals widened for repeats of the same case (clustered by case).
    clustered: bool = False
    #: The prompt variant label ("default" for a one-prompt suite).
    prompt: str = "default"

    @property
    def cost_text(self) -> str:
        return UNPRICED if self.unpriced else usd(self.cost_per_1k)

    @property
    def cached_share(self) -> float | None:
        return self.cached / self.ran if self.ran else None


def _ci(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    lo, hi = value
    return (float(lo), float(hi))


def cost_per_1k_calls(g: GroupStats) -> float | None:
    """Live-equivalent cost of 1,000 calls; None when unpriced or nothing ran.

    Per call, not per case: with repeats a case is several calls
    (``cost_per_1k_cases_usd`` is the per-case figure)."""
    if getattr(g, "unpriced", False):
        return None
    per_call = getattr(g, "cost_per_call_usd", None)
    if per_call is not None:
        return float(per_call) * 1000
    legacy = getattr(g, "cost_per_1k_calls_usd", None)
    return None if legacy is None else float(legacy)


def leader_row(g: GroupStats) -> LeaderRow:
    cost_1k = cost_per_1k_calls(g)
    unpriced = bool(getattr(g, "unpriced", False))
    return LeaderRow(
        suite=g.suite,
        target=g.target,
        temperature=temp_label(g.temperature),
        cells=int(getattr(g, "cells", 0)),
        ran=int(getattr(g, "cells", 0)) - int(getattr(g, "skipped", 0)),
        pass_rate=getattr(g, "pass_rate", None),
        pass_ci=_ci(getattr(g, "pass_rate_ci", None)),
        schema_rate=getattr(g, "schema_valid_rate", None),
        schema_ci=_ci(getattr(g, "schema_valid_ci", None)),
        schema_checked=int(getattr(g, "schema_checked", 0)),
        latency_p50=getattr(g, "latency_p50_ms", None),
        latency_p95=getattr(g, "latency_p95_ms", None),
        ttft_p50=getattr(g, "ttft_p50_ms", None),
        ttft_p95=getattr(g, "ttft_p95_ms", None),
        tokens_per_s=_first(g, "tokens_per_s_p50", "tokens_per_s"),
        cost_per_1k=None if unpriced else cost_1k,
        unpriced=unpriced,
        cost_usd=float(getattr(g, "cost_usd", 0.0) or 0.0),
        error_rate=getattr(g, "error_rate", None),
        retry_rate=getattr(g, "retry_rate", None),
        cached=int(getattr(g, "cached", 0)),
        flaky=len(getattr(g, "flaky_cases", None) or ()),
        clustered=str(getattr(g, "ci_method", "wilson")) != "wilson",
        prompt=str(getattr(g, "prompt", "default")),
    )


def _first(g: GroupStats, *names: str) -> Any:
    for name in names:
        value = getattr(g, name, None)
        if value is not None:
            return value
    return None


def _relabelled(r: Result, suite: str) -> Result:
    # A shallow copy is enough (only ``suite`` changes) and far cheaper than replace().
    twin = copy.copy(r)
    twin.suite = suite
    return twin


def overall_groups(results: Sequence[Result]) -> list[GroupStats]:
    """Groups per (target, temperature) over all suites."""
    return summarize(_relabelled(r, ALL_SUITES) for r in results)


def leaderboard(
    results: Sequence[Result],
    groups: Sequence[GroupStats],
    overall: Sequence[GroupStats] | None = None,
) -> list[LeaderRow]:
    """Per-suite rows, plus per-target rows over all suites when there is more than one."""
    rows = [leader_row(g) for g in groups]
    if len({g.suite for g in groups}) > 1:
        if overall is None:
            overall = overall_groups(results)
        rows = [leader_row(g) for g in overall] + rows
    return rows


@dataclass
class CacheShare:
    cells: int
    ran: int
    replayed: int
    skipped: int

    @property
    def live(self) -> int:
        return self.ran - self.replayed

    @property
    def replayed_share(self) -> float | None:
        return self.replayed / self.ran if self.ran else None

    @property
    def text(self) -> str:
        if not self.ran:
            return f"{self.cells} cells, none ran"
        return (
            f"{self.live} live, {self.replayed} replayed from cache "
            f"({fmt_rate(self.replayed_share)} replayed) of {self.ran} cells run"
            + (f", {self.skipped} skipped" if self.skipped else "")
        )


def cache_share(results: Iterable[Result]) -> CacheShare:
    cells = ran = replayed = 0
    for r in results:
        cells += 1
        if r.status == "skipped":
            continue
        ran += 1
        replayed += bool(r.cached)
    return CacheShare(cells=cells, ran=ran, replayed=replayed, skipped=cells - ran)


_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*(?:e-?\d+)?")
_SPACE = re.compile(r"\s+")
#: Quoted text in a reason is what the model said or what was expected: kept as it is.
_QUOTED = re.compile(r"""('[^'\n]*'|"[^"\n]*")""")


def reason_key(text: str) -> str:
    """Group similar reasons: numbers outside quotes become N (measured figures such as
    latencies), quoted text is kept, whitespace collapses, long text is cut."""
    parts = _QUOTED.split(text or "")
    text = "".join(p if i % 2 else _NUMBER.sub("N", p) for i, p in enumerate(parts))
    text = _SPACE.sub(" ", text).strip()
    return text[:160] + ("…" if len(text) > 160 else "")


@dataclass
class FailureGroup:
    kind: str
    reason: str
    count: int = 0
    targets: Counter[str] = field(default_factory=Counter)
    #: (result index, suite, case_id, target) of the first few cells, for links.
    examples: list[tuple[int, str, str, str]] = field(default_factory=list)

    @property
    def targets_text(self) -> str:
        return ", ".join(f"{t} ({n})" for t, n in self.targets.most_common())


def failure_reasons(r: Result) -> list[tuple[str, str]]:
    """(kind, reason) pairs explaining why a cell did not pass; empty for passes/skips."""
    if r.status == "error":
        return [(f"error: {r.error_kind or 'error'}", r.error or "")]
    if r.status != "failed":
        return []
    found = [
        (str(s.get("name", "?")), str(s.get("reason", "")))
        for s in r.scores
        if not s.get("passed", True)
    ]
    return found or [("failed", "below the case threshold")]


def failure_groups(results: Sequence[Result], max_examples: int = 8) -> list[FailureGroup]:
    """Failed and errored cells grouped by (assertion or error kind, normalised reason)."""
    groups: dict[tuple[str, str], FailureGroup] = {}
    for i, r in enumerate(results):
        for kind, reason in failure_reasons(r):
            key = (kind, reason_key(reason))
            g = groups.get(key)
            if g is None:
                g = groups[key] = FailureGroup(kind=kind, reason=key[1])
            g.count += 1
            g.targets[r.target] += 1
            if len(g.examples) < max_examples and not any(
                e[1] == r.suite and e[2] == r.case_id for e in g.examples
            ):
                g.examples.append((i, r.suite, r.case_id, r.target))
    return sorted(groups.values(), key=lambda g: (-g.count, g.kind, g.reason))


def runs_of(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The run metadata records behind a report: one, or several for a merged report."""
    runs = meta.get("runs")
    if isinstance(runs, list) and runs:
        return [m for m in runs if isinstance(m, dict)]
    return [meta]


@dataclass
class ReportModel:
    """Everything the renderers need, computed once per report."""

    results: list[Result]
    meta: dict[str, Any]
    groups: list[GroupStats]
    #: Groups over all suites per (target, temperature); the groups themselves for one suite.
    overall: list[GroupStats]
    rows: list[LeaderRow]
    share: CacheShare
    failures: list[FailureGroup]

    @property
    def runs(self) -> list[dict[str, Any]]:
        return runs_of(self.meta)


def build_model(
    results: Sequence[Result], meta: dict[str, Any], groups: Sequence[GroupStats]
) -> ReportModel:
    results = list(results)
    groups = list(groups)
    multi = len({g.suite for g in groups}) > 1
    overall = overall_groups(results) if multi else groups
    return ReportModel(
        results=results,
        meta=meta,
        groups=groups,
        overall=overall,
        # Groups that ran nothing are listed once in the decision section, not as rows of "-".
        rows=[r for r in leaderboard(results, groups, overall) if r.ran > 0],
        share=cache_share(results),
        failures=failure_groups(results),
    )
