"""A suite's targets as the loader reads them: ``targets:`` entries (a mapping may also set
TARGET_SETTINGS for its own cells), the prompt variants they name, and the targets cases
add by naming a target string in their own ``targets:``.

The spec itself and its string forms are harness.suite.targets, which the worker imports
and which so stays free of pydantic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pydantic

from harness.errors import SuiteError
from harness.suite.keys import TARGET_SETTINGS, TargetSettings, pydantic_problem
from harness.suite.model import Case, PromptVariant
from harness.suite.schemas import load_tools
from harness.suite.targets import TargetProblem, TargetSpec, parse_target
from harness.suite.yamlfile import Fail
from harness.types import Tool


def load_targets(
    path: Path, raw_targets: Iterable[Any], fail: Fail, sources: list[Path]
) -> list[TargetSpec]:
    """The suite's ``targets:``, each parsed and checked; a tools file a target reads is
    appended to ``sources``."""
    targets = []
    for i, raw in enumerate(raw_targets):
        try:
            targets.append(_target(path, raw, i, fail, sources))
        except TargetProblem as exc:
            fix = exc.fix or (
                "write the target as provider:model, or a mapping (which in a suite may also "
                f"set {', '.join(TARGET_SETTINGS)})"
            )
            raise fail(str(exc), fix, ("targets", i)) from None
    return targets


def _target(path: Path, raw: Any, i: int, fail: Fail, sources: list[Path]) -> TargetSpec:
    """A target; a mapping may also set TARGET_SETTINGS for its cells. Without an ``id``,
    the overridden settings are part of the id (two mappings of one model stay apart)."""
    if not isinstance(raw, Mapping) or not any(k in raw for k in TARGET_SETTINGS):
        return parse_target(raw)
    own = {k: raw[k] for k in TARGET_SETTINGS if k in raw}
    spec = parse_target({k: v for k, v in raw.items() if k not in TARGET_SETTINGS})
    try:
        settings = TargetSettings.model_validate(own)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        problem, fix = pydantic_problem(err, TargetSettings)
        raise fail(f"target {spec.id!r}: {problem}", fix, ("targets", i, *err["loc"])) from None
    tools: tuple[Tool, ...] | None = None
    if settings.tools is not None:
        tools, tools_path = load_tools(path, settings.tools, fail, ("targets", i, "tools"))
        if tools_path is not None:
            sources.append(tools_path)
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


def check_prompt_labels(
    targets: list[TargetSpec], variants: list[PromptVariant], fail: Fail
) -> None:
    """Every prompt variant a target names is one of the suite's."""
    labels = {v.id for v in variants}
    for i, target in enumerate(targets):
        unknown = [p for p in target.prompts if p not in labels]
        if unknown:
            raise fail(
                f"target {target.id!r} names unknown prompt variant(s) {unknown}",
                f"use ids from prompts: ({', '.join(sorted(labels))})",
                ("targets", i),
            )


def case_targets(cases: list[Case], targets: list[TargetSpec]) -> list[TargetSpec]:
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


def check_judge(judge: str | None, fail: Fail) -> None:
    """The suite's ``judge:`` is a target string."""
    if judge is not None:
        try:
            parse_target(judge)
        except TargetProblem as exc:
            raise fail(f"judge: {exc}", "write the judge as provider:model", ("judge",)) from None
