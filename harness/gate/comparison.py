"""What a comparison of two runs is: the verdicts (``Verdict``), one metric's result with its
evidence (``MetricResult``), a group's (``GroupComparison``) and the whole comparison's
(``Comparison``), each with the ``to_dict`` the report, the gate's JSON and the CI comment
read. Made by compare.py (pairing) and verdicts.py (tests and decisions).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from harness.gate.settings import GateSettings
from harness.types import DEFAULT_PROMPT_ID

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
