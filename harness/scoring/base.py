"""Scorer contract and registry.

A scorer is a pure function ``(ctx, spec) -> Score``: ``ctx`` is what the cell produced,
``spec`` the assertion mapping from the suite (``{"type": "contains", "value": "ACME"}``).
Scorers register under their suite name with ``@scorer("name")``; a ``not-`` prefix on any
type negates it, and ``weight`` / the case ``threshold`` are applied by ``run_assertions``.
A scorer may also register a ``validate(spec) -> str | None`` that returns a problem
description, so a bad assertion is a collection error rather than a failing cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.types import Completion, Score

#: A judge runs one call for llm-rubric: (target string, messages as dicts) -> Completion.
Judge = Callable[[str, list[dict[str, str]]], Completion]


@dataclass(frozen=True)
class ScoreContext:
    output: str
    completion: Completion | None = None
    #: The suite's JSON schema (already loaded), if any.
    schema: dict[str, Any] | None = None
    vars: Mapping[str, Any] = field(default_factory=dict)
    #: True when the completion was replayed from the cache; latency/cost are then the
    #: original live figures and scorers say so in their reason.
    cached: bool = False
    latency_ms: float | None = None
    ttft_ms: float | None = None
    cost_usd: float | None = None
    base_dir: Path = Path(".")
    judge: Judge | None = None


Scorer = Callable[[ScoreContext, Mapping[str, Any]], Score]
Validator = Callable[[Mapping[str, Any]], str | None]

SCORERS: dict[str, Scorer] = {}
VALIDATORS: dict[str, Validator] = {}


def scorer(name: str, validate: Validator | None = None) -> Callable[[Scorer], Scorer]:
    def register(fn: Scorer) -> Scorer:
        SCORERS[name] = fn
        if validate is not None:
            VALIDATORS[name] = validate
        return fn

    return register


def split_type(type_name: str) -> tuple[str, bool]:
    """``"not-contains"`` -> ``("contains", True)``."""
    if type_name.startswith("not-") and type_name[4:] in SCORERS:
        return type_name[4:], True
    return type_name, False


def validate_assertion(spec: Mapping[str, Any]) -> str | None:
    """Return a problem (with the fix) for an invalid assertion, or None."""
    type_name = spec.get("type")
    if not isinstance(type_name, str):
        return "assertion has no 'type'; e.g. {type: contains, value: ACME}"
    base, _ = split_type(type_name)
    if base not in SCORERS:
        known = ", ".join(sorted(SCORERS))
        return f"unknown assertion type {type_name!r}; known types: {known} (any may take 'not-')"
    weight = spec.get("weight", 1.0)
    if not isinstance(weight, int | float) or weight < 0:
        return f"assertion {type_name!r}: weight must be a number >= 0, got {weight!r}"
    validator = VALIDATORS.get(base)
    return validator(spec) if validator else None


def run_one(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    base, negate = split_type(str(spec["type"]))
    weight = float(spec.get("weight", 1.0))
    try:
        score = SCORERS[base](ctx, spec)
    except (Exception, SystemExit) as exc:
        # A scorer bug or a bad user function (sys.exit included) is a failed score with
        # the reason, never a crash that would lose the paid call's record.
        return Score(str(spec["type"]), False, None, f"scorer raised {type(exc).__name__}: {exc}",
                     weight)
    if negate:
        return Score(str(spec["type"]), not score.passed, score.value,
                     f"negated: {score.reason}", weight)
    return Score(score.name, score.passed, score.value, score.reason, weight)


def run_assertions(
    ctx: ScoreContext, specs: list[Mapping[str, Any]], threshold: float | None = None
) -> tuple[bool, list[Score]]:
    """Score every assertion. Without a threshold every assertion must pass; with one, the
    weighted share of passing assertions must reach it."""
    scores = [run_one(ctx, spec) for spec in specs]
    if not scores:
        return True, scores
    if threshold is None:
        return all(s.passed or s.weight == 0 for s in scores), scores
    total = sum(s.weight for s in scores)
    got = sum(s.weight for s in scores if s.passed)
    return (got / total if total else 1.0) >= threshold, scores
