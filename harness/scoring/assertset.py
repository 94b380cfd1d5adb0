"""``assert-set``: a group of assertions scored as one, as promptfoo's ``assert-set``.

::

    {type: assert-set, threshold: 0.5, weight: 2, metric: tone,
     assert: [{type: icontains, value: sorry}, {type: not-icontains, value: "as an AI"}]}

Without ``threshold`` every assertion of the group must pass; with one, the weighted share
of passing ones must reach it (the rule a case's ``threshold`` applies to a case's list).
The group counts as one assertion of the case, with its own ``weight`` and ``metric``; its
value is that share. A ``transform:`` on the group governs each of its assertions (applied
before their own). Groups do not nest, and ``metric:`` belongs on the group, not inside it
(a named metric is counted per top-level assertion).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from harness.scoring.base import (
    ScoreContext,
    run_assertions,
    scorer,
    split_type,
    validate_assertion,
)
from harness.types import Score

NAME = "assert-set"


def _validate(spec: Mapping[str, Any]) -> str | None:
    inner = spec.get("assert")
    if not isinstance(inner, list) or not inner:
        return (f"{NAME}: needs 'assert' as a non-empty list of assertions, e.g. "
                "assert: [{type: contains, value: ACME}]")
    threshold = spec.get("threshold")
    if threshold is not None and (isinstance(threshold, bool)
                                  or not isinstance(threshold, int | float)
                                  or not 0 <= threshold <= 1):
        return f"{NAME}: 'threshold' is a share from 0 to 1, got {threshold!r}"
    for i, sub in enumerate(inner):
        if not isinstance(sub, Mapping):
            return f"{NAME}: assertion {i + 1} must be a mapping, got {sub!r}"
        if split_type(str(sub.get("type", "")))[0] == NAME:
            return f"{NAME}: assertion {i + 1} is another assert-set; groups do not nest"
        if "metric" in sub:
            return (f"{NAME}: assertion {i + 1} has 'metric'; put metric: on the assert-set "
                    "(named metrics count top-level assertions)")
        problem = validate_assertion(sub)
        if problem:
            return f"{NAME}: assertion {i + 1}: {problem}"
    return None


@scorer(NAME, validate=_validate, keys=("assert", "threshold"))
def assert_set(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    ok, scores = run_assertions(ctx, list(spec["assert"]), spec.get("threshold"))
    total = sum(s.weight for s in scores)
    share = sum(s.weight for s in scores if s.passed) / total if total else 1.0
    failed = [f"{s.name}: {s.reason}" if s.reason else s.name for s in scores if not s.passed]
    reason = "; ".join(failed)
    if spec.get("threshold") is not None:
        reason = f"{share:.2f} of the group passed (threshold {spec['threshold']:g})" + (
            f": {reason}" if reason else "")
    return Score(NAME, ok, share, reason if not ok else "")


def flatten(specs: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every assertion in ``specs``, those inside an assert-set included (in order)."""
    for spec in specs:
        yield spec
        if split_type(str(spec.get("type", "")))[0] == NAME and isinstance(
                spec.get("assert"), list):
            yield from (s for s in spec["assert"] if isinstance(s, Mapping))
