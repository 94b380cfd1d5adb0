"""Suite files: load and validate YAML suites and their datasets, expand the matrix.

A suite is validated in one pass (pydantic models with ``extra="forbid"``); every problem is
reported as a SuiteError naming the file, the line (found by walking the YAML node tree with
the error's location) and the fix. ``expand`` turns a suite into cells in a stable order:
case x prompt variant x target x temperature x repeat.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from harness.errors import SuiteError
from harness.scoring import SCORERS, validate_assertion
from harness.scoring.assertset import NAME as ASSERT_SET
from harness.scoring.base import split_type
from harness.scoring.rubric import MODEL_GRADED
from harness.scoring.transform import check_transform
from harness.suite import inputguards, templating
from harness.suite import inputs as suite_inputs
from harness.suite.inputs import InputProblem
from harness.suite.model import DEFAULT_PROMPT_ID, Case, PromptVariant, Suite
from harness.suite.targets import TargetProblem, TargetSpec, parse_target
from harness.types import Tool

DEFAULT_MAX_TOKENS = 256
DEFAULT_TIMEOUT_S = 60.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptModel(_Strict):
    system: str | None = None
    user: str


class MessageModel(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class VariantModel(_Strict):
    """One entry of ``prompts:``: a label and exactly one of system/user, messages or file."""

    id: str | int
    system: str | None = None
    user: str | None = None
    messages: list[MessageModel] | None = None
    file: str | None = None


class CaseModel(_Strict):
    id: str | int | None = None
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(default=None, ge=0, le=1)
    transform: str | list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    targets: list[str] | None = Field(default=None, min_length=1)


class SuiteModel(_Strict):
    name: str | None = None
    description: str | None = None
    targets: list[str | dict[str, Any]] = Field(min_length=1)
    # No sweep asked for: the provider's own default (None, shown as "default"), which every
    # provider accepts; a fixed 0.0 is refused by Anthropic's current models.
    temperatures: list[float | None] = Field(default=[None], min_length=1)
    repeat: int = Field(default=1, ge=1, le=1000)
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    stream: bool = False
    structured: Literal["none", "native", "json"] = "none"
    seed: int | None = None
    prompt: PromptModel | None = None
    messages: list[MessageModel] | None = None
    prompts: list[VariantModel] | None = Field(default=None, min_length=1)
    schema_: str | dict[str, Any] | None = Field(default=None, alias="schema")
    tools: list[dict[str, Any]] | str = Field(default_factory=list)
    tool_choice: str | None = None
    dataset: str | list[str] | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    cases: list[CaseModel] = Field(default_factory=list)
    transform: str | list[str] | None = None
    judge: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    derived_metrics: dict[str, str] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Loading


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Lines:
    """Finds the source line of a location (tuple of keys/indexes) in a YAML document."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.node = node

    def line(self, loc: Iterable[str | int]) -> int | None:
        node = self.node
        best = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        best = key.start_mark.line + 1
                        node = value
                        break
                else:
                    return best
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return best
                node = node.value[part]
                best = node.start_mark.line + 1
            else:
                return best
        return best


_FIX_BY_ERROR = {
    "extra_forbidden": "remove it or check its spelling; valid keys: {valid}",
    "missing": "add it",
}


def _pydantic_problem(err: Any, model: type[BaseModel]) -> tuple[str, str]:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key = err["loc"][-1]
        valid = ", ".join(sorted((f.alias or n) for n, f in _model_for(err["loc"], model)))
        return f"unknown key {key!r}", f"remove it or check its spelling; valid keys: {valid}"
    if kind == "missing":
        return f"missing required key {loc!r}", f"add '{err['loc'][-1]}:'"
    return f"{loc}: {err['msg']} (got {err.get('input')!r})", "correct the value"


def _model_for(loc: tuple[Any, ...], model: type[BaseModel]) -> list[tuple[str, Any]]:
    """Fields of the model that owns ``loc``'s last key (for 'valid keys' hints)."""
    current: type[BaseModel] = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        if field is None:
            break
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        candidates = [ann, *(inner or ())]
        for c in candidates:
            for sub in getattr(c, "__args__", ()) or (c,):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    current = sub
    return list(current.model_fields.items())


def _read_yaml(path: Path) -> tuple[Any, _Lines]:
    text = inputguards.read_text(path, "YAML file")
    # One parse gives both the node tree (for line numbers) and the data; libyaml's C
    # parser when present (10x faster on a 5000-case suite).
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        inputguards.check_yaml_tree(node, path)  # before construction expands any alias
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise SuiteError(
            str(path),
            f"YAML syntax error: {exc.problem}",
            "fix the YAML syntax at that line (indentation, quotes, a ':' inside a value "
            "needs quotes)",
            line=mark.line + 1 if mark else None,
        ) from None
    finally:
        loader.dispose()
    return data, _Lines(node)


def load_suite(path: Path | str, judge: str | None = None) -> Suite:
    """The suite at ``path``, checked. ``judge``: the run's default judge (``--llm-judge``),
    for model-graded assertions that name none when the suite has no ``judge:``."""
    path = Path(path)
    data, lines = _read_yaml(path)
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
        problem, fix = _pydantic_problem(err, SuiteModel)
        more = len(exc.errors()) - 1
        if more:
            problem += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise SuiteError(str(path), problem, fix, line=lines.line(err["loc"])) from None
    return _build(path, model, lines, judge)


def _template_file(
    path: Path, src: str, sources: list[Path], fail: Any, loc: tuple[str | int, ...]
) -> str:
    """A prompt or message written ``file://path`` is that file's text (relative to the
    suite), read as a template."""
    ref = suite_inputs.file_ref(src)
    if ref is None or "\n" in src:
        return src
    template_path = path.parent / ref
    try:
        text = template_path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        raise fail(f"prompt file not found or not text: {template_path}",
                   "prompt file paths are relative to the suite file", loc) from None
    sources.append(template_path)
    return text


_PROMPTFOO_KEYS = ("providers", "tests", "defaultTest")


def _refuse_promptfoo(path: Path, data: dict[str, Any], lines: _Lines) -> None:
    """A promptfoo config is not a suite: say so and point to the importer."""
    found = [k for k in _PROMPTFOO_KEYS if k in data]
    if found:
        raise SuiteError(
            str(path),
            f"this looks like a promptfoo config ({', '.join(found)}), not an llm-harness suite",
            f"convert it with: llm-harness import promptfoo {path}",
            line=lines.line((found[0],)),
        )


class _Defaults:
    """What the suite gives every case: the judge of model-graded assertions, and the list
    of files read while loading (a cached parse is valid while they are unchanged)."""

    def __init__(self, judge: str | None) -> None:
        self.judge = judge
        self.reads: list[Path] = []
        #: The suite's ``vars:`` (file values read), under every case's own.
        self.vars: dict[str, Any] = {}

    def assertion(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The spec with the suite's judge filled in when it is model-graded and names none."""
        base, _ = split_type(str(spec.get("type", "")))
        if (self.judge and base in MODEL_GRADED and "provider" not in spec
                and "target" not in spec):
            return {**spec, "provider": self.judge}
        if base == ASSERT_SET and isinstance(spec.get("assert"), list):
            # The judge reaches the assertions of a group as it does top-level ones.
            return {**spec, "assert": [self.assertion(s) if isinstance(s, Mapping) else s
                                       for s in spec["assert"]]}
        return dict(spec)


def _check_transform(raw: Any) -> tuple[str, ...]:
    """A validated transform value as a tuple; raises InputProblem."""
    if raw is None:
        return ()
    problem = check_transform(raw)
    if problem:
        raise InputProblem(problem, "write a Python expression over output, json, vars, "
                                    "tool_calls (docs/scoring.md) or module:function")
    return tuple(raw) if isinstance(raw, list) else (raw,)


def _build(path: Path, m: SuiteModel, lines: _Lines, run_judge: str | None = None) -> Suite:
    def fail(problem: str, fix: str, loc: tuple[str | int, ...]) -> SuiteError:
        return SuiteError(str(path), problem, fix, line=lines.line(loc))

    targets = []
    for i, raw in enumerate(m.targets):
        try:
            targets.append(_target(path, raw, i, fail))
        except TargetProblem as exc:
            fix = exc.fix or (
                "write the target as provider:model, or a mapping (which in a suite may also "
                f"set {', '.join(TARGET_SETTINGS)})"
            )
            raise fail(str(exc), fix, ("targets", i)) from None
    temp_problem = inputguards.temperature_problem(m.temperatures)
    if temp_problem is not None:
        raise fail(temp_problem[0], "list each temperature once, between 0 and 2",
                   ("temperatures", temp_problem[1]))
    ids = [t.id for t in targets]
    if len(set(ids)) != len(ids):
        raise fail("duplicate target ids", "give each target a distinct 'id'", ("targets",))

    sources: list[Path] = []
    variants = [
        # A template written file://path is that file's text (docs/suites.md).
        dataclasses.replace(v, templates=tuple(
            (role, _template_file(path, src, sources, fail,
                                  ("prompts", i) if m.prompts else ("prompt",)))
            for role, src in v.templates
        ))
        for i, v in enumerate(_variants(path, m, fail, sources))
    ]
    needed: set[str] = set()
    for i, variant in enumerate(variants):
        loc: tuple[str | int, ...] = ("prompts", i) if m.prompts else ("prompt",)
        for _, src in variant.templates:
            try:
                needed |= templating.variables(src)
            except templating.TemplateProblem as exc:
                where = f" (prompt {variant.id!r})" if m.prompts else ""
                raise fail(f"{exc}{where}", "fix the jinja2 template", loc) from None
    labels = {v.id for v in variants}
    for i, target in enumerate(targets):
        unknown = [p for p in target.prompts if p not in labels]
        if unknown:
            raise fail(
                f"target {target.id!r} names unknown prompt variant(s) {unknown}",
                f"use ids from prompts: ({', '.join(sorted(labels))})",
                ("targets", i),
            )

    if isinstance(m.schema_, str):
        sources.append(path.parent / m.schema_)
    schema = _load_schema(path, m.schema_, fail)
    if m.structured != "none" and schema is None and m.structured == "native":
        raise fail(
            "structured: native needs a 'schema:'",
            "add schema: path/to.schema.json",
            ("structured",),
        )
    raw_tools: list[Any] = m.tools if isinstance(m.tools, list) else []
    if isinstance(m.tools, str):
        tools_path = path.parent / m.tools
        try:
            raw_tools = suite_inputs.tools_file(tools_path)
        except InputProblem as exc:
            raise fail(exc.problem, exc.fix, ("tools",)) from None
        sources.append(tools_path)
    tools = tuple(_tool(path, t, i, fail) for i, t in enumerate(raw_tools))

    # The judge of a model-graded assertion that names none: the suite's, else the run's.
    defaults = _Defaults(m.judge or run_judge)
    try:
        expanded_vars = suite_inputs.expand_file_vars("suite", m.vars, path.parent,
                                                      defaults.reads)
    except InputProblem as exc:
        raise fail(exc.problem, exc.fix, ("vars",)) from None
    if len(expanded_vars) > 1:
        raise fail("a glob in the suite's vars would multiply every case",
                   "put the glob in a case's vars", ("vars",))
    defaults.vars = expanded_vars[0][1]
    if m.judge is not None:
        try:
            parse_target(m.judge)
        except TargetProblem as exc:
            raise fail(f"judge: {exc}", "write the judge as provider:model", ("judge",)) from None
    try:
        suite_transform = _check_transform(m.transform)
    except InputProblem as exc:
        raise fail(exc.problem, exc.fix, ("transform",)) from None
    suite_asserts = tuple(defaults.assertion(spec) for spec in m.assert_)
    for i, spec in enumerate(suite_asserts):
        problem = validate_assertion(spec)
        if problem:
            raise fail(problem, _assertion_fix(problem), ("assert", i))

    cases: list[Case] = []
    for i, c in enumerate(m.cases):
        line = lines.line(("cases", i))
        cases.extend(
            _case(path, c.model_dump(by_alias=True, exclude_unset=True), f"{path}:{line}", i,
                  line, defaults)
        )
    for ds in [m.dataset] if isinstance(m.dataset, str) else (m.dataset or []):
        sources.append(path.parent / ds)
        cases.extend(_load_dataset(path, path.parent / ds, lines, defaults))
    sources.extend(p for p in dict.fromkeys(defaults.reads) if p not in sources)
    if not cases:
        raise fail("the suite has no cases", "add 'cases:' or a 'dataset:' file", ())
    seen: dict[str, str] = {}
    for case in cases:
        if case.id in seen:
            raise SuiteError(
                case.source,
                f"duplicate case id {case.id!r} (first at {seen[case.id]})",
                "give each case a unique id",
            )
        seen[case.id] = case.source
        missing = needed - set(case.vars)
        if missing:
            raise SuiteError(
                case.source,
                f"case {case.id!r} lacks template variable(s) {sorted(missing)}",
                f"add them to the case's vars (the prompt uses {sorted(needed)})",
            )
        _check_rag_vars(case, suite_asserts)

    render_problem = inputguards.render_problem(cases, [t for v in variants for t in v.templates])
    if render_problem is not None:
        raise render_problem
    added = _case_targets(cases, targets)

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
        derived_metrics=_derived_metrics(m.derived_metrics, suite_asserts, cases, fail),
    )


def _check_rag_vars(case: Case, suite_asserts: Iterable[Mapping[str, Any]]) -> None:
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


def _case_targets(cases: list[Case], targets: list[TargetSpec]) -> list[TargetSpec]:
    """The targets cases add: a name in a case's ``targets:`` that is not a suite target's
    id is a target string of its own (promptfoo's per-test provider), run for that case."""
    ids = {t.id for t in targets}
    added: dict[str, TargetSpec] = {}
    for case in cases:
        for name in case.targets:
            if name in ids or name in added:
                continue
            try:
                added[name] = parse_target(name)
            except TargetProblem as exc:
                raise SuiteError(
                    case.source,
                    f"case {case.id!r}: target {name!r} is not one of the suite's "
                    f"({', '.join(sorted(ids))}) nor a target string: {exc}",
                    "name a suite target's id, or write a target as provider:model",
                ) from None
            if added[name].id != name:  # a spelling parse_target normalises: keep one id
                raise SuiteError(case.source, f"case {case.id!r}: write target {name!r} as "
                                 f"{added[name].id!r}", "use the target's id")
    return list(added.values())


def _derived_metrics(
    raw: dict[str, str], suite_asserts: Iterable[Mapping[str, Any]], cases: list[Case], fail: Any
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


def _assertion_fix(problem: str) -> str:
    if "needs the judge" in problem:
        return ("name the judge on the assertion (provider: ...), once for the suite "
                "(judge: ...), or for the run (--llm-judge, ini llm_judge)")
    return "see docs/scoring.md for assertion types and their keys"


#: Suite settings a target mapping may override for its own cells.
TARGET_SETTINGS = ("temperatures", "max_tokens", "tools", "tool_choice")


class _TargetSettings(_Strict):
    temperatures: list[float | None] | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    tools: list[dict[str, Any]] | str | None = None
    tool_choice: str | None = None


def _target(path: Path, raw: Any, i: int, fail: Any) -> TargetSpec:
    """A target; a mapping may also set TARGET_SETTINGS for its cells. Without an ``id``,
    the overridden settings are part of the id (two mappings of one model stay apart)."""
    if not isinstance(raw, Mapping) or not any(k in raw for k in TARGET_SETTINGS):
        return parse_target(raw)
    own = {k: raw[k] for k in TARGET_SETTINGS if k in raw}
    spec = parse_target({k: v for k, v in raw.items() if k not in TARGET_SETTINGS})
    try:
        settings = _TargetSettings.model_validate(own)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        problem, fix = _pydantic_problem(err, _TargetSettings)
        raise fail(f"target {spec.id!r}: {problem}", fix, ("targets", i, *err["loc"])) from None
    tools: tuple[Tool, ...] | None = None
    if settings.tools is not None:
        raw_tools = settings.tools
        if isinstance(raw_tools, str):
            try:
                raw_tools = suite_inputs.tools_file(path.parent / raw_tools)
            except InputProblem as exc:
                raise fail(exc.problem, exc.fix, ("targets", i, "tools")) from None
        tools = tuple(_tool(path, t, j, fail) for j, t in enumerate(raw_tools))
    ident = spec.id
    if "id" not in raw:
        shown = ",".join(
            f"{k}={len(own[k]) if k == 'tools' and isinstance(own[k], list) else own[k]}"
            for k in TARGET_SETTINGS if k in own and k != "temperatures"
        )
        ident = f"{spec.id}({shown})" if shown else spec.id
    return dataclasses.replace(
        spec,
        id=ident,
        temperatures=tuple(settings.temperatures) if settings.temperatures else None,
        max_tokens=settings.max_tokens,
        tools=tools,
        tool_choice=settings.tool_choice,
    )


def _variants(path: Path, m: SuiteModel, fail: Any, sources: list[Path]) -> list[PromptVariant]:
    """The suite's prompt variants: ``prompts:``, or ``prompt:`` / ``messages:`` as the one
    variant labelled ``default``."""
    given = [k for k in ("prompt", "messages", "prompts") if getattr(m, k) is not None]
    if len(given) != 1:
        raise fail(
            "a suite needs exactly one of 'prompt:', 'messages:' or 'prompts:'"
            + (f" (it has {' and '.join(given)})" if given else ""),
            "use prompt: {system: ..., user: ...}, a messages: list, or prompts: [{id: v1, "
            "user: ...}, {id: v2, file: prompts/v2.txt}]",
            (),
        )
    if m.prompt is not None:
        templates = ((("system", m.prompt.system),) if m.prompt.system else ()) + (
            ("user", m.prompt.user),
        )
        return [PromptVariant(DEFAULT_PROMPT_ID, templates, f"{path} prompt:")]
    if m.messages is not None:
        templates = tuple((msg.role, msg.content) for msg in m.messages)
        return [PromptVariant(DEFAULT_PROMPT_ID, templates, f"{path} messages:")]
    assert m.prompts is not None
    out: list[PromptVariant] = []
    for i, v in enumerate(m.prompts):
        loc = ("prompts", i)
        label = str(v.id)
        if not label or any(ch in label for ch in "[]| "):
            raise fail(
                f"prompt id {label!r} is empty or has one of '[', ']', '|', ' '",
                "use letters, digits, '-', '_' or '.' (the id appears in test ids)",
                loc,
            )
        if any(p.id == label for p in out):
            raise fail(f"duplicate prompt id {label!r}", "give each variant a distinct id", loc)
        forms = [
            name
            for name, value in (("user", v.user), ("messages", v.messages), ("file", v.file))
            if value is not None
        ]
        if len(forms) != 1 or (v.system is not None and forms != ["user"]):
            raise fail(
                f"prompt {label!r} needs exactly one of 'user:' (with an optional 'system:'), "
                "'messages:' or 'file:'",
                "give the variant one prompt",
                loc,
            )
        if v.user is not None:
            templates = ((("system", v.system),) if v.system else ()) + (("user", v.user),)
            source = f"{path} prompts[{i}]"
        elif v.messages is not None:
            templates = tuple((msg.role, msg.content) for msg in v.messages)
            source = f"{path} prompts[{i}]"
        else:
            assert v.file is not None
            file_path = path.parent / v.file
            sources.append(file_path)
            templates = _prompt_file(path, file_path, fail, loc)
            source = str(file_path)
        out.append(PromptVariant(label, templates, source))
    return out


def _prompt_file(
    suite_path: Path, file_path: Path, fail: Any, loc: tuple[str | int, ...]
) -> tuple[tuple[str, str], ...]:
    """A prompt file: ``.txt`` is the user template; ``.json`` / ``.yaml`` chat messages."""
    suffix = file_path.suffix.lower()
    if suffix not in (".txt", ".json", ".yaml", ".yml"):
        raise fail(
            f"unsupported prompt file {file_path.name!r}",
            "use .txt (the user message) or .json / .yaml (a list of {role, content})",
            loc,
        )
    try:
        text = file_path.read_text("utf-8")
    except FileNotFoundError:
        raise fail(
            f"prompt file not found: {file_path}",
            "prompt file paths are relative to the suite file",
            loc,
        ) from None
    if suffix == ".txt":
        return (("user", text),)
    if suffix == ".json":
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteError(
                str(file_path), f"not valid JSON: {exc.msg}", "fix the JSON", line=exc.lineno
            ) from None
    else:
        data, _ = _read_yaml(file_path)
    fix = 'write a list of messages: [{"role": "system", "content": "..."}, ...]'
    if not isinstance(data, list) or not data:
        raise SuiteError(str(file_path), "a prompt file must hold a list of messages", fix)
    templates = []
    for n, raw in enumerate(data, start=1):
        try:
            msg = MessageModel.model_validate(raw)
        except pydantic.ValidationError as exc:
            problem, _ = _pydantic_problem(exc.errors()[0], MessageModel)
            raise SuiteError(str(file_path), f"message {n}: {problem}", fix) from None
        templates.append((msg.role, msg.content))
    return tuple(templates)


def _load_schema(path: Path, raw: str | dict[str, Any] | None, fail: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        schema_path = path.parent / raw
        if not schema_path.exists():
            raise fail(
                f"schema file not found: {schema_path}",
                "schema paths are relative to the suite file",
                ("schema",),
            )
        try:
            schema = json.loads(inputguards.read_text(schema_path, "schema"))
        except json.JSONDecodeError as exc:
            raise SuiteError(
                str(schema_path),
                f"schema is not valid JSON: {exc.msg}",
                "fix the JSON",
                line=exc.lineno,
            ) from None
    else:
        schema = raw
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise fail(
            f"invalid JSON schema at {where}: {exc.message}",
            "fix the schema (JSON Schema draft 2020-12)",
            ("schema",),
        ) from None
    if not isinstance(schema, dict):
        raise fail("schema must be a JSON object", "fix the schema", ("schema",))
    remote = inputguards.remote_ref(schema)
    if remote is not None:
        raise fail(f"the schema refers to {remote!r}, off this machine", inputguards.REMOTE_FIX,
                   ("schema",))
    return schema


def _tool(path: Path, raw: Any, i: int, fail: Any) -> Tool:
    fields = suite_inputs.tool_fields(raw)
    if fields is None or not isinstance(fields[0], str) or not fields[0]:
        raise fail(
            "a tool must be {type: function, function: {name, description, parameters}} "
            "(OpenAI) or {name, description, input_schema} (Anthropic), with no other keys",
            "use one of the two forms",
            ("tools", i),
        )
    name, description, params = fields
    params = params or {"type": "object", "properties": {}}
    try:
        jsonschema.Draft202012Validator.check_schema(params)
    except jsonschema.SchemaError as exc:
        raise fail(
            f"tool {name!r} parameters are not a valid JSON schema: {exc.message}",
            "fix the parameters schema",
            ("tools", i),
        ) from None
    return Tool(name=name, description=description, parameters=params)


def _case(
    path: Path,
    raw: Mapping[str, Any],
    source: str,
    index: int,
    line: int | None,
    defaults: _Defaults,
) -> list[Case]:
    """One case of a suite or dataset; a var that is a file glob makes one case per file."""
    try:
        model = CaseModel.model_validate(raw)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        problem, fix = _pydantic_problem(err, CaseModel)
        raise SuiteError(source, f"case {index + 1}: {problem}", fix) from None
    asserts = tuple(defaults.assertion(spec) for spec in model.assert_)
    for spec in asserts:
        spec_problem = validate_assertion(spec)
        if spec_problem:
            raise SuiteError(source, spec_problem, _assertion_fix(spec_problem))
    case_id = str(model.id) if model.id is not None else f"case-{index + 1}"
    try:
        transform = _check_transform(model.transform)
        expanded = suite_inputs.expand_file_vars(
            case_id, {**defaults.vars, **model.vars}, path.parent, defaults.reads
        )
    except InputProblem as exc:
        raise SuiteError(source, f"case {case_id!r}: {exc.problem}", exc.fix) from None
    return [
        Case(cid, variables, asserts, model.threshold, source, model.description,
             dict(model.metadata), transform, tuple(dict.fromkeys(model.targets or ())))
        for cid, variables in expanded
    ]


def _load_dataset(suite_path: Path, ds: Path, lines: _Lines, defaults: _Defaults) -> list[Case]:
    if not ds.exists():
        raise SuiteError(
            str(suite_path),
            f"dataset file not found: {ds}",
            "dataset paths are relative to the suite file",
            line=lines.line(("dataset",)),
        )
    suffix = ds.suffix.lower()
    rows: list[tuple[Mapping[str, Any], int]] = []
    if ds.is_dir() or suffix in (".jsonl", ".csv"):
        content = inputguards.read_text(ds, "dataset")
    if suffix == ".jsonl":
        for n, text in enumerate(content.splitlines(), start=1):
            if not text.strip():
                continue
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SuiteError(
                    str(ds),
                    f"not valid JSON: {exc.msg}",
                    'each line must be one JSON object: {"id": ..., "vars": {...}}',
                    line=n,
                ) from None
            if not isinstance(parsed, dict):
                raise SuiteError(
                    str(ds), "each line must be a JSON object", "wrap it in {...}", line=n
                )
            rows.append((parsed, n))
    elif suffix == ".csv":
        known = set(SCORERS)
        reader = csv.DictReader(io.StringIO(content, newline=""))
        for rec in reader:
            n = reader.line_num
            ragged = inputguards.ragged_row(rec, list(reader.fieldnames or ()))
            if ragged is not None:
                raise SuiteError(str(ds), ragged, "give every row one value per header column "
                                 "(quote values that contain commas)", line=n)
            try:
                rows.append((suite_inputs.csv_row(rec, known), n))
            except InputProblem as exc:
                raise SuiteError(str(ds), exc.problem, exc.fix, line=n) from None
    elif suffix in (".yaml", ".yml", ".json"):
        # A JSON array is YAML too: one reader, with line numbers for both.
        data, ds_lines = _read_yaml(ds)
        if not isinstance(data, list):
            raise SuiteError(
                str(ds),
                f"a {suffix[1:].upper()} dataset must be a list of cases",
                "write '- id: ...\\n  vars: {...}' items",
            )
        for i, row in enumerate(data):
            rows.append((row, ds_lines.line((i,)) or 0))
    else:
        raise SuiteError(
            str(ds), f"unsupported dataset format {suffix!r}",
            "use .jsonl, .json (a list), .csv, .yaml or .yml"
        )
    return [
        case
        for i, (row, n) in enumerate(rows)
        for case in _case(ds, row, f"{ds}:{n}", i, n, defaults)
    ]
