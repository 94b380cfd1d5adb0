"""python scorer: a user function named by a dotted path.

``{type: python, value: "checks:is_polite"}`` imports ``checks`` (or ``checks.py`` next to
the suite file; ``path/to/file.py:fn`` also works) and calls ``fn(output, ctx)`` with the
ScoreContext (``ctx.vars``, ``ctx.completion``, ...). The function returns:

- a bool: pass or fail;
- a number: the score, which passes when >= ``threshold`` (default 0.5);
- a mapping ``{"pass": bool, "score": number, "reason": str}`` (``passed``/``value`` are
  accepted too; without a pass key the score is compared with the threshold);
- a harness.types.Score.

An exception in the function fails the assertion with the exception in the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import (
    bounded,
    check_all,
    check_dotted,
    is_number,
    need_number,
    resolve_callable,
)
from harness.types import Score

DEFAULT_THRESHOLD = 0.5


def _validate(spec: Mapping[str, Any]) -> str | None:
    return check_all(
        lambda s: check_dotted(s, "value"), need_number("threshold", required=False)
    )(spec)


@scorer("python", validate=_validate, keys=("value", "threshold"))
def python_scorer(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    dotted = str(spec["value"])
    threshold = float(spec.get("threshold", DEFAULT_THRESHOLD))
    fn = resolve_callable(dotted, ctx.base_dir)
    got = bounded(dotted, fn, ctx.output, ctx)
    return interpret("python", dotted, got, threshold)


def interpret(name: str, label: str, got: Any, threshold: float) -> Score:
    """A user check's return value as a Score (shared with the ``expression`` type)."""
    if isinstance(got, Score):
        return Score(name, got.passed, got.value, got.reason)
    if isinstance(got, bool):
        return Score(name, got, got, f"{label} returned {got}")
    if is_number(got):
        ok = got >= threshold
        return Score(name, ok, got, f"{label} scored {got:g} vs threshold {threshold:g}")
    if isinstance(got, Mapping):
        value = got.get("score", got.get("value"))
        passed = got.get("pass", got.get("passed"))
        reason = str(got.get("reason", ""))
        if passed is None:
            if not is_number(value):
                return Score(name, False, value,
                             f"{label} returned a mapping with neither 'pass' nor a "
                             "numeric 'score'")
            passed = value >= threshold
        return Score(name, bool(passed), value, reason)
    return Score(
        name, False, None,
        f"{label} returned {type(got).__name__}; expected bool, number, "
        "{pass, score, reason} or Score",
    )
