"""What a suite scores with, checked while loading: assertions (the judge filled in where a
model-graded one names none, each validated with its fix), transforms, the vars RAG metrics
read, and ``derived_metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from harness.errors import SuiteError
from harness.scoring import validate_assertion
from harness.scoring.assertset import NAME as ASSERT_SET
from harness.scoring.base import split_type
from harness.scoring.rubric import MODEL_GRADED
from harness.scoring.transform import check_transform as transform_problem
from harness.suite.inputs import InputProblem
from harness.suite.model import Case
from harness.suite.yamlfile import Fail


def checked(
    specs: Iterable[Mapping[str, Any]], judge: str | None,
    error: Callable[[str, str, int], SuiteError],
) -> tuple[dict[str, Any], ...]:
    """The assertions with ``judge`` filled in, each validated: the first invalid one (its
    index) raises ``error(problem, fix, index)``."""
    out = tuple(_with_judge(spec, judge) for spec in specs)
    for i, spec in enumerate(out):
        problem = validate_assertion(spec)
        if problem:
            raise error(problem, _assertion_fix(problem), i)
    return out


def _with_judge(spec: Mapping[str, Any], judge: str | None) -> dict[str, Any]:
    """The spec with the judge filled in when it is model-graded and names none."""
    base, _ = split_type(str(spec.get("type", "")))
    if judge and base in MODEL_GRADED and "provider" not in spec and "target" not in spec:
        return {**spec, "provider": judge}
    if base == ASSERT_SET and isinstance(spec.get("assert"), list):
        # The judge reaches the assertions of a group as it does top-level ones.
        return {**spec, "assert": [_with_judge(s, judge) if isinstance(s, Mapping) else s
                                   for s in spec["assert"]]}
    return dict(spec)


def _assertion_fix(problem: str) -> str:
    if "needs the judge" in problem:
        return ("name the judge on the assertion (provider: ...), once for the suite "
                "(judge: ...), or for the run (--llm-judge, ini llm_judge)")
    return "see docs/scoring.md for assertion types and their keys"


def check_transform(raw: Any) -> tuple[str, ...]:
    """A validated transform value as a tuple; raises InputProblem."""
    if raw is None:
        return ()
    problem = transform_problem(raw)
    if problem:
        raise InputProblem(problem, "write a Python expression over output, json, vars, "
                                    "tool_calls (docs/scoring.md) or module:function")
    return tuple(raw) if isinstance(raw, list) else (raw,)


def check_rag_vars(case: Case, suite_asserts: Iterable[Mapping[str, Any]]) -> None:
    """A RAG metric reads the case's ``query`` / ``context`` vars: a case without them is
    refused here rather than failing every cell it makes."""
    from harness.scoring.assertset import flatten
    from harness.scoring.rubric import RAG_VARS

    for spec in flatten([*suite_asserts, *case.assertions]):
        kind = split_type(str(spec.get("type", "")))[0]
        lacking = [v for v in RAG_VARS.get(kind, ()) if v not in case.vars]
        if lacking:
            raise SuiteError(
                case.source,
                f"case {case.id!r}: {kind} reads the vars {', '.join(RAG_VARS[kind])}; "
                f"this case has no {', '.join(lacking)}",
                "add them to the case's vars (or the suite's vars:)",
            )


def derived_metrics(
    raw: dict[str, str], suite_asserts: Iterable[Mapping[str, Any]], cases: list[Case],
    fail: Fail,
) -> tuple[tuple[str, str], ...]:
    """``derived_metrics: {name: expression}``, each over the suite's named metrics."""
    if not raw:
        return ()
    from harness.scoring.expr import SAFE_BUILTINS, check, free_names

    metrics = {str(spec["metric"]) for spec in suite_asserts if spec.get("metric")}
    metrics |= {str(spec["metric"]) for case in cases for spec in case.assertions
                if spec.get("metric")}
    out: list[tuple[str, str]] = []
    for name, source in raw.items():
        problem = check(source)
        if problem:
            raise fail(f"derived metric {name!r}: {problem}",
                       "write an expression over metric names, e.g. 2 * p * r / (p + r)",
                       ("derived_metrics", name))
        unknown = sorted(free_names(source) - metrics - set(SAFE_BUILTINS)
                         - {earlier for earlier, _ in out})
        if unknown:
            known = sorted(metrics) or "none yet (add metric: to an assertion)"
            raise fail(
                f"derived metric {name!r} uses {unknown}, which no assertion names as metric:",
                f"use the suite's metrics: {known}",
                ("derived_metrics", name),
            )
        out.append((name, source))
    return tuple(out)
