"""Compare a run with a baseline: paired tests per (suite, prompt, target, temperature).

A cell pairs with the baseline cell of the same (suite, case, prompt variant label, target,
temperature, repeat) while its *test* is unchanged (test fingerprint: vars, assertions,
schema, threshold, tools); a case whose test changed is "not comparable", never
"regressed". A changed *prompt* (rendered messages, generation settings) is compared - that
is the question a prompt edit asks - and the group says "prompt changed" with the first
changed lines of the rendered prompt. A version-1 baseline has one fingerprint for both, so
with it any prompt change still makes the case not comparable.
Skipped cells are left out on both sides; errors count as failures (as in stats.py).

Metrics per group and their verdicts. Every p-value of a comparison (both rates, latency
and cost, every group) goes into one Holm correction; a verdict needs the adjusted p below
alpha AND an effect beyond its threshold:
- pass_rate, schema_valid_rate: paired tests (paired.py); effect at least ``min_effect``;
- latency: each call's latency net of the harness stall that overlapped it (``stall_ms``,
  recorded per call by the runner); per case, the mean log net latency of its repeats;
  sign-flip test on the per-case log ratios; effect: the geometric-mean ratio beyond
  ``latency_tolerance`` and the typical latency moved by more than ``latency_slack_ms``.
  Cells whose stall exceeds STALL_SHARE of their latency (and the slack) are left out and
  counted;
- cost_per_call: a call's cost is its token counts times fixed prices, so the noise in a
  cost change is in the tokens: the test is the sign-flip test on per-case log ratios of
  tokens (input + output), the effect the cost ratio beyond ``cost_tolerance``. The price
  ratio (``_price_ratio``: the same tokens at both runs' prices) is deterministic, not
  tested: beyond the tolerance on its own it is a verdict;
- pass_rate_floor: the current run's pass rate against ``min_pass_rate`` (absolute, per suite).

Each rate metric also says the smallest change its test could flag at all (``detectable``).

Flaky cases (mixed outcomes across repeats) are flagged for either run; they enter the tests
like every case, so they can only produce a verdict through a significant change.
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from harness.gate.baseline import Baseline, CellOutcome, baseline_from_results
from harness.gate.paired import (
    CaseCounts,
    RatioTest,
    holm,
    mcnemar_exact,
    mean_diff_interval,
    min_flaggable_cases,
    newcombe_paired_interval,
    paired_log_ratio,
    sign_flip_test,
)
from harness.gate.settings import GateSettings
from harness.types import DEFAULT_PROMPT_ID, Result

#: (suite, target, temperature, prompt variant label)
GroupKey = tuple[str, str, float | None, str]


class Verdict(StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NO_CHANGE = "no significant change"
    NOT_COMPARABLE = "not comparable"
    #: Only for absolute checks (the pass-rate floor): the floor is met.
    OK = "ok"


RATE_METRICS = ("pass_rate", "schema_valid_rate")
#: Metrics with a paired test: their p-values share one Holm correction.
TESTED_METRICS = (*RATE_METRICS, "latency", "cost_per_call")

#: A cell whose overlapping harness stall exceeds this share of its latency is left out of
#: the latency test: its net latency (latency less stall) would rest more on the stall
#: estimate (under-counted by up to one 10 ms watcher interval per stall) than on the
#: measurement. Below it, the stall is taken out of the latency instead: on a loaded machine
#: nearly every call carries some stall, and leaving them all out (as a 10% share did) left
#: the gate blind to a real +300 ms change.
STALL_SHARE = 0.5

#: Why a case is not comparable when one side has only the combined fingerprint.
V1_REASON = (
    "test or prompt changed (a version-1 baseline, or records from before prompt variants, "
    "has one fingerprint for both; regenerate the baseline to compare prompt changes)"
)


@dataclass
class MetricResult:
    """One metric's verdict in one group, with the evidence behind it."""

    metric: str
    verdict: Verdict
    reason: str = ""
    before: float | None = None
    after: float | None = None
    #: after - before for rates; after / before for latency and cost.
    change: float | None = None
    #: 95% interval for ``change`` (for cost: of the token ratio; None if not estimable).
    interval: tuple[float, float] | None = None
    #: Paired cases behind the metric, and samples (cells) on each side.
    cases: int = 0
    samples_before: int = 0
    samples_after: int = 0
    #: Discordant pairs (single-sample rates): passed before only / passed after only.
    b: int | None = None
    c: int | None = None
    #: Cases whose mean got worse / better (rates with repeats).
    worse: int | None = None
    better: int | None = None
    test: str = ""
    p_value: float | None = None
    p_adjusted: float | None = None
    #: The tolerance or floor the metric was held to.
    threshold: float | None = None
    #: Latency: cells left out for a harness stall (before / after).
    stalled_before: int = 0
    stalled_after: int = 0
    #: Cost: the tested token ratio (geometric mean of per-case ratios) and the
    #: deterministic price-per-token ratio; change = tokens (mean) x price per token.
    tokens_ratio: float | None = None
    price_ratio: float | None = None
    #: Rates: the smallest change the test could flag, in rate points (None: none at all at
    #: this number of cases), and how many cases would have to change for it.
    detectable: float | None = None
    detectable_cases: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        if self.change is not None and math.isinf(self.change):
            data["change"] = None  # strict JSON has no infinity; the reason says "from 0"
        return data


@dataclass
class GroupComparison:
    suite: str
    target: str
    temperature: float | None
    prompt: str = DEFAULT_PROMPT_ID
    #: "compared", "new" (only in this run) or "missing" (only in the baseline).
    status: str = "compared"
    metrics: list[MetricResult] = field(default_factory=list)
    paired_cases: int = 0
    #: Cases whose test changed (or, against a version-1 baseline, test or prompt): listed,
    #: not compared.
    not_comparable_cases: list[str] = field(default_factory=list)
    #: Why they are not comparable: "test changed", or V1_REASON when one side has only
    #: the combined fingerprint.
    not_comparable_reason: str = "test changed"
    #: Paired cases whose prompt changed (compared all the same).
    prompt_changed_cases: list[str] = field(default_factory=list)
    #: The first changed lines of the rendered prompt (unified-diff style), when known.
    prompt_diff: list[str] = field(default_factory=list)
    #: Within one run (within.py): the reference column (prompt or target) compared with.
    reference: str = ""
    added_cases: list[str] = field(default_factory=list)
    removed_cases: list[str] = field(default_factory=list)
    flaky_before: list[str] = field(default_factory=list)
    flaky_after: list[str] = field(default_factory=list)
    #: Paired cases whose pass rate fell / rose (evidence; not verdicts on their own).
    worse_cases: list[str] = field(default_factory=list)
    better_cases: list[str] = field(default_factory=list)

    @property
    def key(self) -> GroupKey:
        return (self.suite, self.target, self.temperature, self.prompt)

    @property
    def prompt_changed(self) -> bool:
        return bool(self.prompt_changed_cases)

    @property
    def verdict(self) -> Verdict:
        verdicts = {m.verdict for m in self.metrics}
        if Verdict.REGRESSION in verdicts:
            return Verdict.REGRESSION
        if Verdict.IMPROVEMENT in verdicts:
            return Verdict.IMPROVEMENT
        if verdicts & {Verdict.NO_CHANGE}:
            return Verdict.NO_CHANGE
        return Verdict.NOT_COMPARABLE

    @property
    def flaky(self) -> list[str]:
        return sorted(set(self.flaky_before) | set(self.flaky_after))

    def metric(self, name: str) -> MetricResult | None:
        return next((m for m in self.metrics if m.metric == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "prompt": self.prompt,
            "target": self.target,
            "temperature": self.temperature,
            "status": self.status,
            "verdict": self.verdict.value,
            "paired_cases": self.paired_cases,
            "metrics": [m.to_dict() for m in self.metrics],
            "not_comparable_cases": self.not_comparable_cases,
            "not_comparable_reason": self.not_comparable_reason,
            "prompt_changed_cases": self.prompt_changed_cases,
            "prompt_diff": self.prompt_diff,
            "reference": self.reference,
            "added_cases": self.added_cases,
            "removed_cases": self.removed_cases,
            "flaky_before": self.flaky_before,
            "flaky_after": self.flaky_after,
            "worse_cases": self.worse_cases,
            "better_cases": self.better_cases,
        }


@dataclass
class Comparison:
    baseline: str
    current: str
    settings: GateSettings
    groups: list[GroupComparison] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[GroupComparison, MetricResult]]:
        return [(g, m) for g in self.groups for m in g.metrics if m.verdict is Verdict.REGRESSION]

    @property
    def improvements(self) -> list[tuple[GroupComparison, MetricResult]]:
        return [(g, m) for g in self.groups for m in g.metrics if m.verdict is Verdict.IMPROVEMENT]

    @property
    def has_regression(self) -> bool:
        return bool(self.regressions)

    @property
    def not_comparable_cases(self) -> int:
        return sum(len(g.not_comparable_cases) for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "current": self.current,
            "has_regression": self.has_regression,
            "regressions": len(self.regressions),
            "improvements": len(self.improvements),
            "settings": self.settings.to_dict(),
            "groups": [g.to_dict() for g in self.groups],
        }


# ---------------------------------------------------------------------------------------


def compare(baseline: Baseline, results: list[Result], settings: GateSettings) -> Comparison:
    """Compare this run's results with a baseline."""
    run_ids = sorted({r.run_id for r in results if r.run_id})
    label = "this run" + (f" ({', '.join(run_ids)})" if run_ids else "")
    return compare_baselines(baseline, baseline_from_results(results, source=label), settings)


def _by_group(cells: Iterable[CellOutcome]) -> dict[GroupKey, dict[str, list[CellOutcome]]]:
    out: dict[GroupKey, dict[str, list[CellOutcome]]] = defaultdict(lambda: defaultdict(list))
    for c in cells:
        if c.status != "skipped":
            out[c.group][c.case].append(c)
    return out


def _group_order(key: GroupKey) -> tuple[str, str, str, float]:
    suite, target, temp, prompt = key
    return (suite, prompt, target, -math.inf if temp is None else temp)


def compare_baselines(before: Baseline, after: Baseline, settings: GateSettings) -> Comparison:
    """Compare two outcome sets (a baseline file, or stored runs turned into baselines)."""
    old = _by_group(before.cells)
    new = _by_group(after.cells)
    comparison = Comparison(baseline=before.label, current=after.label, settings=settings)
    for key in sorted(set(old) | set(new), key=_group_order):
        g = GroupComparison(*key)
        if key not in new:
            g.status = "missing"
            g.removed_cases = sorted(old[key])
        else:
            if key not in old:
                g.status = "new"
                g.added_cases = sorted(new[key])
            else:
                _compare_group(g, old[key], new[key], settings)
                if g.prompt_changed:
                    g.prompt_diff = prompt_diff(before, after, g.suite, g.prompt)
            floor = _floor(g.suite, new[key], settings)
            if floor is not None:
                g.metrics.append(floor)
        comparison.groups.append(g)
    _decide(comparison, settings)
    return comparison


def _flaky(cases: dict[str, list[CellOutcome]]) -> list[str]:
    return sorted(c for c, cells in cases.items() if len({x.passed for x in cells}) > 1)


def _compare_group(
    g: GroupComparison,
    old: dict[str, list[CellOutcome]],
    new: dict[str, list[CellOutcome]],
    settings: GateSettings,
) -> None:
    common = set(old) & set(new)
    g.added_cases = sorted(set(new) - set(old))
    g.removed_cases = sorted(set(old) - set(new))
    for case in sorted(common):
        test_old = {c.test_fingerprint for c in old[case] if c.test_fingerprint}
        test_new = {c.test_fingerprint for c in new[case] if c.test_fingerprint}
        if test_old and test_new:
            if test_old != test_new:
                g.not_comparable_cases.append(case)
                continue
            prompt_old = {c.prompt_fingerprint for c in old[case] if c.prompt_fingerprint}
            prompt_new = {c.prompt_fingerprint for c in new[case] if c.prompt_fingerprint}
            if prompt_old and prompt_new and prompt_old != prompt_new:
                g.prompt_changed_cases.append(case)
            continue
        # A version-1 baseline (or records from before the split): one fingerprint.
        fps_old = {c.fingerprint for c in old[case] if c.fingerprint}
        fps_new = {c.fingerprint for c in new[case] if c.fingerprint}
        if fps_old and fps_new and fps_old != fps_new:
            g.not_comparable_cases.append(case)
            g.not_comparable_reason = V1_REASON
    paired = sorted(common - set(g.not_comparable_cases))
    g.paired_cases = len(paired)
    g.flaky_before = _flaky({c: old[c] for c in paired})
    g.flaky_after = _flaky({c: new[c] for c in paired})
    before = {c: old[c] for c in paired}
    after = {c: new[c] for c in paired}

    pass_counts = [
        CaseCounts(
            c,
            sum(x.passed for x in before[c]),
            len(before[c]),
            sum(x.passed for x in after[c]),
            len(after[c]),
        )
        for c in paired
    ]
    g.worse_cases = [cc.case for cc in pass_counts if cc.diff < 0]
    g.better_cases = [cc.case for cc in pass_counts if cc.diff > 0]
    g.metrics.append(_rate_metric("pass_rate", pass_counts, settings))

    schema_counts = []
    any_schema = False
    for c in paired:
        sb = [x.schema_valid for x in before[c] if x.schema_valid is not None]
        sa = [x.schema_valid for x in after[c] if x.schema_valid is not None]
        any_schema = any_schema or bool(sb) or bool(sa)
        if sb and sa:
            schema_counts.append(CaseCounts(c, sum(sb), len(sb), sum(sa), len(sa)))
    if any_schema:
        g.metrics.append(_rate_metric("schema_valid_rate", schema_counts, settings))

    pairs = [(before[c], after[c]) for c in paired]
    g.metrics.append(_latency_metric(pairs, settings))
    g.metrics.append(_cost_metric(pairs, settings))


def prompt_diff(before: Baseline, after: Baseline, suite: str, prompt: str) -> list[str]:
    """The first changed lines between the two sides' rendered prompts of one variant (the
    same case on both sides, so what differs is the template)."""
    old = next((p for p in before.prompts if (p["suite"], p["prompt"]) == (suite, prompt)), None)
    if old is None:
        return []
    new = next(
        (
            p
            for p in after.prompts
            if (p["suite"], p["prompt"], p["case"]) == (suite, prompt, old["case"])
        ),
        None,
    )
    if new is None:
        return []
    return template_diff(old["messages"], new["messages"])


def template_diff(
    old: Sequence[Sequence[str]], new: Sequence[Sequence[str]], max_lines: int = 6
) -> list[str]:
    """``-``/``+`` lines of what changed between two message lists, at most ``max_lines``."""

    def lines(messages: Sequence[Sequence[str]]) -> list[str]:
        return [f"{role}: {line}" for role, text in messages for line in text.splitlines()]

    out = [
        f"{line[0]} {line[1:]}".rstrip()
        for line in difflib.unified_diff(lines(old), lines(new), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    if len(out) > max_lines:
        out = [*out[:max_lines], f"... ({len(out) - max_lines} more changed lines)"]
    return [line if len(line) <= 160 else line[:157] + "..." for line in out]


def _rate_metric(name: str, counts: Sequence[CaseCounts], settings: GateSettings) -> MetricResult:
    m = MetricResult(metric=name, verdict=Verdict.NOT_COMPARABLE, threshold=settings.min_effect)
    m.cases = len(counts)
    m.samples_before = sum(cc.n_before for cc in counts)
    m.samples_after = sum(cc.n_after for cc in counts)
    if not counts:
        m.reason = "no paired cases" if name == "pass_rate" else "no schema checks in one run"
        return m
    m.before = sum(cc.hits_before for cc in counts) / m.samples_before
    m.after = sum(cc.hits_after for cc in counts) / m.samples_after
    if all(cc.single for cc in counts):
        b = sum(1 for cc in counts if cc.hits_before and not cc.hits_after)
        c = sum(1 for cc in counts if cc.hits_after and not cc.hits_before)
        a = sum(1 for cc in counts if cc.hits_before and cc.hits_after)
        d = len(counts) - a - b - c
        m.b, m.c = b, c
        m.change = (c - b) / len(counts)
        m.interval = newcombe_paired_interval(a, b, c, d)
        m.test = "McNemar exact"
        m.p_value = mcnemar_exact(b, c)
    else:
        # Several samples per case: the case is the unit (repeats are not independent).
        m.change = sum(cc.diff for cc in counts) / len(counts)
        m.interval = mean_diff_interval(counts)
        m.worse = sum(1 for cc in counts if cc.diff < 0)
        m.better = sum(1 for cc in counts if cc.diff > 0)
        flip = sign_flip_test(counts)
        m.test = "sign-flip exact" if flip.method == "exact" else "sign-flip normal approx."
        m.p_value = flip.p_value
    if len(counts) < settings.min_cases:
        m.reason = f"{len(counts)} paired cases < min_cases {settings.min_cases}"
        m.p_value = None
    return m


def _decide(comparison: Comparison, settings: GateSettings) -> None:
    """One Holm correction over every tested metric of the comparison, then the verdicts."""
    tested = [
        m
        for g in comparison.groups
        for m in g.metrics
        if m.metric in TESTED_METRICS and m.p_value is not None
    ]
    p_values = [m.p_value for m in tested if m.p_value is not None]
    adjusted = holm(p_values) if settings.correction == "holm" else list(p_values)
    for m, p_adj in zip(tested, adjusted, strict=True):
        m.p_adjusted = p_adj
        if m.metric in RATE_METRICS:
            _decide_rate(m, p_adj, settings)
        elif m.metric == "latency":
            _decide_latency(m, p_adj, settings)
        else:
            _decide_cost(m, p_adj, settings)
    m_tests = len(tested)
    for g in comparison.groups:
        for m in g.metrics:
            if m.metric in RATE_METRICS and m.cases:
                _detectable(m, settings, m_tests)


def _significant(p_adj: float, settings: GateSettings) -> str | None:
    """The reason a test is not significant, or None when it is."""
    if p_adj >= settings.alpha:
        return f"p {_p(p_adj)} >= alpha {settings.alpha:g}"
    return None


def _decide_rate(m: MetricResult, p_adj: float, settings: GateSettings) -> None:
    assert m.change is not None
    m.verdict = Verdict.NO_CHANGE
    reason = _significant(p_adj, settings)
    if reason:
        m.reason = reason
    elif abs(m.change) < settings.min_effect:
        m.reason = (
            f"change {m.change * 100:+.1f} pts is below min_effect "
            f"{settings.min_effect * 100:g} pts"
        )
    else:
        m.verdict = Verdict.REGRESSION if m.change < 0 else Verdict.IMPROVEMENT
        m.reason = f"{m.change * 100:+.1f} pts, p {_p(p_adj)} < alpha {settings.alpha:g}"


def _decide_latency(m: MetricResult, p_adj: float, settings: GateSettings) -> None:
    assert m.change is not None and m.before is not None and m.after is not None
    tol, slack = settings.latency_tolerance, settings.latency_slack_ms
    m.verdict = Verdict.NO_CHANGE
    shift = f"x{m.change:.2f} ({m.after - m.before:+,.0f} ms)"
    reason = _significant(p_adj, settings)
    if reason:
        m.reason = f"{shift}, {reason}"
    elif m.change > tol and m.after - m.before > slack:
        m.verdict = Verdict.REGRESSION
        m.reason = f"{shift} > tolerance x{tol:g}, p {_p(p_adj)} < alpha {settings.alpha:g}"
    elif m.change < 1 / tol and m.before - m.after > slack:
        m.verdict = Verdict.IMPROVEMENT
        m.reason = f"{shift} < x{1 / tol:.2f}, p {_p(p_adj)} < alpha {settings.alpha:g}"
    else:
        m.reason = f"{shift} is significant but within tolerance x{tol:g} (+{slack:g} ms slack)"
    m.reason += _stall_note(m)


def _decide_cost(m: MetricResult, p_adj: float, settings: GateSettings) -> None:
    assert m.change is not None
    tol = settings.cost_tolerance
    m.verdict = Verdict.NO_CHANGE
    what = "tokens" if m.tokens_ratio is not None else "cost"
    reason = _significant(p_adj, settings)
    if reason:
        m.reason = f"cost per call x{m.change:.2f}; {what} change not significant ({reason})"
    elif m.change > tol:
        m.verdict = Verdict.REGRESSION
        m.reason = (
            f"cost per call x{m.change:.2f} > tolerance x{tol:g}; {what} rose, "
            f"p {_p(p_adj)} < alpha {settings.alpha:g}"
        )
    elif m.change < 1 / tol:
        m.verdict = Verdict.IMPROVEMENT
        m.reason = (
            f"cost per call x{m.change:.2f} < x{1 / tol:.2f}; {what} fell, "
            f"p {_p(p_adj)} < alpha {settings.alpha:g}"
        )
    else:
        m.reason = f"cost per call x{m.change:.2f} within tolerance x{tol:g}"


def _detectable(m: MetricResult, settings: GateSettings, tests: int) -> None:
    """The smallest change in the rate the test could flag if it were the only change.

    A lone change must clear alpha / (number of tests) under Holm (alpha without a
    correction), and then ``min_flaggable_cases`` cases must all move the same way; with
    repeats the smallest move of a case is one sample of its repeats. The figure is the
    best case (every other case unchanged); noise in other cases only raises it."""
    level = settings.alpha / max(1, tests) if settings.correction == "holm" else settings.alpha
    need = min_flaggable_cases(level)
    m.detectable_cases = need
    if need > m.cases:
        m.detectable = None
        return
    repeats = max(1.0, m.samples_after / m.cases)
    m.detectable = max(need / m.cases / repeats, settings.min_effect)


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def _stall_note(m: MetricResult) -> str:
    left_out = m.stalled_before + m.stalled_after
    if not left_out:
        return ""
    return (
        f"; {left_out} cell(s) left out for a harness stall over {STALL_SHARE:.0%} of "
        f"their latency and the slack ({m.stalled_before} before, {m.stalled_after} after)"
    )


def _stalled(x: CellOutcome, slack_ms: float) -> bool:
    """A stall over STALL_SHARE of the call's latency, and over the slack: a stall shorter
    than ``latency_slack_ms`` cannot move a latency by a verdict's worth on its own, and
    leaving it out would throw away every fast (cached or simulated) call's timing."""
    # stall_ms is absent from records made before it existed: no known stall.
    stall = x.stall_ms or 0.0
    return x.latency_ms is not None and stall > max(STALL_SHARE * x.latency_ms, slack_ms)


def _net_latency(x: CellOutcome) -> float:
    """The call's latency less the harness stall inside it: what the provider and the
    network took. Positive for every cell that is not left out (stall <= STALL_SHARE)."""
    latency = x.latency_ms or 0.0
    return max(latency - (x.stall_ms or 0.0), (1.0 - STALL_SHARE) * latency)


def _ratio_fields(m: MetricResult, test: RatioTest) -> None:
    m.cases = test.cases
    m.interval = test.interval
    m.worse, m.better = test.worse, test.better
    m.p_value = test.p_value
    m.test = "sign-flip exact" if test.method == "exact" else "sign-flip Monte Carlo"


Pairs = list[tuple[list[CellOutcome], list[CellOutcome]]]


def _latency_metric(pairs: Pairs, settings: GateSettings) -> MetricResult:
    """Per-case paired test on log latency (see the module docstring)."""
    m = MetricResult(
        metric="latency", verdict=Verdict.NOT_COMPARABLE, threshold=settings.latency_tolerance
    )
    samples: list[tuple[list[float], list[float]]] = []
    for before, after in pairs:
        sides = []
        for side, cells in (("before", before), ("after", after)):
            timed = [x for x in cells if x.status != "error" and x.latency_ms is not None]
            kept = [x for x in timed if not _stalled(x, settings.latency_slack_ms)]
            if side == "before":
                m.stalled_before += len(timed) - len(kept)
                m.samples_before += len(kept)
            else:
                m.stalled_after += len(timed) - len(kept)
                m.samples_after += len(kept)
            sides.append([_net_latency(x) for x in kept])
        samples.append((sides[0], sides[1]))
    test = paired_log_ratio(samples)
    if test is None or test.cases < settings.min_cases:
        found = 0 if test is None else test.cases
        m.cases = found
        m.reason = (
            f"{found} cases timed in both runs < min_cases {settings.min_cases}" + _stall_note(m)
        )
        return m
    _ratio_fields(m, test)
    m.before, m.after, m.change = test.before, test.after, test.ratio
    return m


def _tokens(x: CellOutcome) -> int | None:
    if x.input_tokens is None or x.output_tokens is None:
        return None
    return x.input_tokens + x.output_tokens


#: Price ratios this close to 1 are "unchanged": baselines keep costs to 6 significant
#: digits, and no provider changes a price by a tenth of a percent.
PRICE_EPSILON = 1e-3


def _price_ratio(before: list[CellOutcome], after: list[CellOutcome]) -> float:
    """What this run's tokens cost at this run's prices over what they cost at the
    baseline's: a price index with the token mix held fixed, so not a random quantity.

    Each run's per-token prices (input, output) are recovered from its cells by least
    squares on cost = p_in * input_tokens + p_out * output_tokens, exact when the price is
    linear in the tokens (a cache-read discount or a long-context tier makes it an
    approximation)."""

    def prices(cells: list[CellOutcome]) -> np.ndarray:
        design = np.array([[x.input_tokens or 0, x.output_tokens or 0] for x in cells], float)
        costs = np.array([x.cost or 0.0 for x in cells], float)
        fitted, *_ = np.linalg.lstsq(design, costs, rcond=None)
        return np.asarray(fitted, dtype=float)

    tokens = np.array([[x.input_tokens or 0, x.output_tokens or 0] for x in after], float)
    now = float((tokens @ prices(after)).sum())
    then = float((tokens @ prices(before)).sum())
    if then <= 0 or now <= 0:
        return 1.0
    ratio = now / then
    return 1.0 if abs(ratio - 1) < PRICE_EPSILON else ratio


def _cost_metric(pairs: Pairs, settings: GateSettings) -> MetricResult:
    """Mean cost per answered call; its noise tested on the token counts (module docstring)."""
    tol = settings.cost_tolerance
    m = MetricResult(metric="cost_per_call", verdict=Verdict.NOT_COMPARABLE, threshold=tol)
    answered = [
        ([x for x in b if x.status != "error"], [x for x in a if x.status != "error"])
        for b, a in pairs
    ]
    answered = [(b, a) for b, a in answered if b and a]
    cells_b = [x for b, _ in answered for x in b]
    cells_a = [x for _, a in answered for x in a]
    m.samples_before, m.samples_after = len(cells_b), len(cells_a)
    m.cases = len(answered)
    if m.cases < settings.min_cases:
        m.reason = f"{m.cases} cases answered in both runs < min_cases {settings.min_cases}"
        return m
    if any(x.cost is None for x in cells_b + cells_a):
        m.reason = "unpriced: no price for this target in one run"
        return m
    m.before = math.fsum(x.cost or 0.0 for x in cells_b) / len(cells_b)
    m.after = math.fsum(x.cost or 0.0 for x in cells_a) / len(cells_a)
    if m.before == 0 or m.after == 0:
        if m.before == m.after:
            m.change, m.verdict, m.reason = 1.0, Verdict.NO_CHANGE, "free in both runs"
        elif m.before == 0:
            m.change, m.verdict = math.inf, Verdict.REGRESSION
            m.reason = "cost per call rose from 0"
        else:
            m.change, m.verdict, m.reason = 0.0, Verdict.IMPROVEMENT, "cost per call fell to 0"
        m.test = "deterministic"
        return m
    m.change = m.after / m.before
    if all(_tokens(x) for x in cells_b + cells_a):
        m.price_ratio = _price_ratio(cells_b, cells_a)
        test = paired_log_ratio(
            [([_tokens(x) or 0 for x in b], [_tokens(x) or 0 for x in a]) for b, a in answered]
        )
        assert test is not None
        m.tokens_ratio = test.ratio
        _ratio_fields(m, test)
        m.test = f"tokens {m.test}"
        if m.price_ratio > tol or m.price_ratio < 1 / tol:
            m.verdict = Verdict.REGRESSION if m.price_ratio > 1 else Verdict.IMPROVEMENT
            m.reason = (
                f"price per token x{m.price_ratio:.2f} beyond tolerance x{tol:g} "
                "(deterministic: the prices, not sampling)"
            )
            m.p_value = None  # decided without a test: not part of the Holm family
        return m
    # A baseline without token counts (written before they were kept): at fixed prices a
    # call's cost is its price-weighted tokens, so the per-case cost ratios are tested.
    test = paired_log_ratio(
        [([x.cost or 0.0 for x in b], [x.cost or 0.0 for x in a]) for b, a in answered]
    )
    assert test is not None
    _ratio_fields(m, test)
    m.test = f"cost {m.test} (no token counts)"
    return m


def _floor(
    suite: str, cases: dict[str, list[CellOutcome]], settings: GateSettings
) -> MetricResult | None:
    floor = settings.floor_for(suite)
    if floor is None:
        return None
    cells = [x for xs in cases.values() for x in xs]
    m = MetricResult(metric="pass_rate_floor", verdict=Verdict.OK, threshold=floor, test="floor")
    m.cases = len(cases)
    m.samples_after = len(cells)
    if not cells:
        m.verdict = Verdict.NOT_COMPARABLE
        m.reason = "no cells ran"
        return m
    m.after = sum(x.passed for x in cells) / len(cells)
    if m.after < floor:
        m.verdict = Verdict.REGRESSION
        m.reason = f"pass rate {m.after * 100:.1f}% below the floor {floor * 100:g}%"
    else:
        m.reason = f"pass rate {m.after * 100:.1f}% meets the floor {floor * 100:g}%"
    return m
