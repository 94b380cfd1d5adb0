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
    #: True once a transform produced ``output``: a text assertion then checks that text
    #: even when the answer itself was only a tool call.
    transformed: bool = False


Scorer = Callable[[ScoreContext, Mapping[str, Any]], Score]
Validator = Callable[[Mapping[str, Any]], str | None]

SCORERS: dict[str, Scorer] = {}
VALIDATORS: dict[str, Validator] = {}
#: The keys each type accepts besides COMMON_KEYS; any other key is a collection error,
#: so a key the user wrote is never silently ignored.
KEYS: dict[str, frozenset[str]] = {}
#: Types that judge the answer's text: on an answer that is only a tool call they fail
#: with a reason saying so, unless a transform says what text to check.
TEXT_TYPES: set[str] = set()
#: Keys every assertion accepts (documented in docs/scoring.md).
COMMON_KEYS = frozenset({"type", "weight", "transform", "metric"})


def scorer(
    name: str,
    validate: Validator | None = None,
    *,
    keys: tuple[str, ...] | None = None,
    text: bool = False,
) -> Callable[[Scorer], Scorer]:
    """Register ``fn`` as assertion type ``name``. ``keys``: the type's own keys (None
    leaves a third-party scorer's keys unchecked); ``text``: it judges the answer text."""

    def register(fn: Scorer) -> Scorer:
        SCORERS[name] = fn
        if validate is not None:
            VALIDATORS[name] = validate
        if keys is not None:
            KEYS[name] = frozenset(keys)
        if text:
            TEXT_TYPES.add(name)
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
    own = KEYS.get(base)
    if own is not None:
        unknown = sorted(set(map(str, spec)) - COMMON_KEYS - own)
        if unknown:
            valid = ", ".join(sorted(COMMON_KEYS | own))
            return (
                f"assertion {type_name!r}: unknown key {unknown[0]!r}"
                f"{_key_hint(base, unknown[0])}; remove it or check its spelling "
                f"(valid keys: {valid})"
            )
    metric = spec.get("metric")
    if metric is not None and (not isinstance(metric, str) or not metric.strip()):
        return f"assertion {type_name!r}: 'metric' must be a name, got {metric!r}"
    if "transform" in spec:
        from harness.scoring.transform import check_transform

        problem = check_transform(spec["transform"])
        if problem:
            return f"assertion {type_name!r}: {problem}"
    validator = VALIDATORS.get(base)
    return validator(spec) if validator else None


def _key_hint(base: str, key: str) -> str:
    if key in ("provider", "target"):
        return " (only model-graded types such as llm-rubric take a judge)"
    if key == "value":
        return f" ({base} takes no value)"
    return ""


def run_one(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    base, negate = split_type(str(spec["type"]))
    weight = float(spec.get("weight", 1.0))
    metric = spec.get("metric")
    if "transform" in spec:
        from harness.scoring.transform import apply

        try:
            ctx = apply(ctx, spec)
        except Exception as exc:  # a bad transform fails this assertion, not the run
            return Score(str(spec["type"]), False, None,
                         f"transform raised {type(exc).__name__}: {exc}", weight, metric)
    if base in TEXT_TYPES and not ctx.transformed and _only_tool_calls(ctx):
        assert ctx.completion is not None
        names = [c.name for c in ctx.completion.tool_calls]
        return Score(
            str(spec["type"]), False, None,
            f"the answer is only a tool call ({', '.join(names)}), no text to check; use "
            "tool-call, or say what text to check with transform: (e.g. "
            "'tool_calls[0].arguments')", weight, metric,
        )
    try:
        score = SCORERS[base](ctx, spec)
    except (Exception, SystemExit) as exc:
        # A scorer bug or a bad user function (sys.exit included) is a failed score with
        # the reason, never a crash that would lose the paid call's record.
        return Score(str(spec["type"]), False, None, f"scorer raised {type(exc).__name__}: {exc}",
                     weight, metric)
    if negate:
        return Score(str(spec["type"]), not score.passed, score.value,
                     negated_reason(score, spec, base), weight, metric)
    return Score(score.name, score.passed, score.value, score.reason, weight, metric)


def negated_reason(score: Score, spec: Mapping[str, Any], base: str) -> str:
    """Why a negated assertion ended as it did: when the positive one passed, the negation
    fails because of what matched, so name it ("found 'as an AI'")."""
    if not score.passed:
        return f"negated: {score.reason}"
    shown = score.value
    if isinstance(shown, list) and shown:
        what = "found " + ", ".join(repr(x) for x in shown)
    elif isinstance(shown, str):
        what = f"found {shown!r}"
    elif shown is True and isinstance(spec.get("value"), str | int | float):
        what = f"found {spec['value']!r}"
    else:
        what = f"{base} passed"
    return what + (f" ({score.reason})" if score.reason else "")


def _only_tool_calls(ctx: ScoreContext) -> bool:
    c = ctx.completion
    return c is not None and bool(c.tool_calls) and not ctx.output.strip()


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
