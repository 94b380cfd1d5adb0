"""Suite files: load and validate a YAML suite, in one pass, into a Suite.

Every problem is a SuiteError naming the file, the line (harness.suite.yamlfile finds it from
the problem's location) and the fix. This module is the order of the stages; each stage is
a module of its own:

- harness.suite.yamlfile: the YAML read with its line numbers;
- harness.suite.keys: the keys a suite accepts (pydantic models) and how errors read;
- harness.suite.suite_targets: ``targets:``, per-target settings, targets cases add;
- harness.suite.prompts: ``prompt:`` / ``messages:`` / ``prompts:`` and prompt files;
- harness.suite.schemas: ``schema:`` and tools;
- harness.suite.assertions: assertions, transforms, RAG vars, ``derived_metrics:``;
- harness.suite.cases: inline cases and datasets, and the checks across cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic

from harness.errors import SuiteError
from harness.suite import assertions, inputguards
from harness.suite.cases import CaseDefaults, check_cases, load_cases
from harness.suite.inputs import InputProblem
from harness.suite.keys import SuiteModel, pydantic_problem
from harness.suite.model import Suite
from harness.suite.prompts import load_prompts
from harness.suite.schemas import load_schema, load_tools
from harness.suite.suite_targets import case_targets, check_judge, check_prompt_labels, load_targets
from harness.suite.yamlfile import Lines, Loc, read_yaml


def load_suite(path: Path | str, judge: str | None = None) -> Suite:
    """The suite at ``path``, checked. ``judge``: the run's default judge (``--llm-judge``),
    for model-graded assertions that name none when the suite has no ``judge:``."""
    path = Path(path)
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise SuiteError(
            str(path),
            "a suite must be a YAML mapping",
            "start with 'name:', 'targets:', 'prompt:' and 'cases:' or 'dataset:'",
        )
    _refuse_promptfoo(path, data, lines)
    if isinstance(data.get("prompts"), dict):
        # The likeliest slip: one prompt written under the plural key.
        raise SuiteError(
            str(path),
            "'prompts:' is a list of labelled variants, got a mapping",
            "write prompts: [{id: v1, user: ...}, {id: v2, user: ...}], or 'prompt:' for "
            "a single prompt",
            line=lines.line(("prompts",)),
        )
    for loc, value in inputguards.bad_numbers(data):
        raise SuiteError(str(path), f"{'.'.join(map(str, loc))} is {value}",
                         "use a finite number", line=lines.line(loc))
    try:
        model = SuiteModel.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        problem, fix = pydantic_problem(err, SuiteModel)
        more = len(exc.errors()) - 1
        if more:
            problem += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise SuiteError(str(path), problem, fix, line=lines.line(err["loc"])) from None
    return _build(path, model, lines, judge)


_PROMPTFOO_KEYS = ("providers", "tests", "defaultTest")


def _refuse_promptfoo(path: Path, data: dict[str, Any], lines: Lines) -> None:
    """A promptfoo config is not a suite: say so and point to the importer."""
    found = [k for k in _PROMPTFOO_KEYS if k in data]
    if found:
        raise SuiteError(
            str(path),
            f"this looks like a promptfoo config ({', '.join(found)}), not an llm-harness suite",
            f"convert it with: llm-harness import promptfoo {path}",
            line=lines.line((found[0],)),
        )


def _build(path: Path, m: SuiteModel, lines: Lines, run_judge: str | None = None) -> Suite:
    def fail(problem: str, fix: str, loc: Loc) -> SuiteError:
        return SuiteError(str(path), problem, fix, line=lines.line(loc))

    sources: list[Path] = []  # every file read: a cached parse is valid while they are unchanged
    targets = load_targets(path, m.targets, fail, sources)
    temp_problem = inputguards.temperature_problem(m.temperatures)
    if temp_problem is not None:
        raise fail(temp_problem[0], "list each temperature once, between 0 and 2",
                   ("temperatures", temp_problem[1]))
    ids = [t.id for t in targets]
    if len(set(ids)) != len(ids):
        raise fail("duplicate target ids", "give each target a distinct 'id'", ("targets",))

    variants, needed = load_prompts(path, m, fail, sources)
    check_prompt_labels(targets, variants, fail)

    if isinstance(m.schema_, str):
        sources.append(path.parent / m.schema_)
    schema = load_schema(path, m.schema_, fail)
    if m.structured != "none" and schema is None and m.structured == "native":
        raise fail(
            "structured: native needs a 'schema:'",
            "add schema: path/to.schema.json",
            ("structured",),
        )
    tools, tools_path = load_tools(path, m.tools, fail, ("tools",))
    if tools_path is not None:
        sources.append(tools_path)

    # The judge of a model-graded assertion that names none: the suite's, else the run's.
    defaults = CaseDefaults(path, m, m.judge or run_judge, fail)
    check_judge(m.judge, fail)
    try:
        suite_transform = assertions.check_transform(m.transform)
    except InputProblem as exc:
        raise fail(exc.problem, exc.fix, ("transform",)) from None
    suite_asserts = assertions.checked(
        m.assert_, defaults.judge, lambda problem, fix, i: fail(problem, fix, ("assert", i)))

    cases = load_cases(path, m, lines, defaults, sources)
    sources.extend(p for p in dict.fromkeys(defaults.reads) if p not in sources)
    if not cases:
        raise fail("the suite has no cases", "add 'cases:' or a 'dataset:' file", ())
    check_cases(cases, needed, suite_asserts)
    render_problem = inputguards.render_problem(cases, [t for v in variants for t in v.templates])
    if render_problem is not None:
        raise render_problem
    added = case_targets(cases, targets)

    return Suite(
        path=path,
        name=m.name or path.stem,
        targets=tuple(targets) + tuple(added),
        case_targets=tuple(t.id for t in added),
        temperatures=tuple(m.temperatures),
        repeat=m.repeat,
        max_tokens=m.max_tokens,
        timeout_s=m.timeout_s,
        stream=m.stream,
        structured=m.structured,
        seed=m.seed,
        prompts=tuple(variants),
        schema=schema,
        tools=tools,
        tool_choice=m.tool_choice,
        assertions=suite_asserts,
        threshold=m.threshold,
        cases=tuple(cases),
        sources=tuple(sources),
        transform=suite_transform,
        derived_metrics=assertions.derived_metrics(m.derived_metrics, suite_asserts, cases, fail),
    )
