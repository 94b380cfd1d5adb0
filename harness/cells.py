"""What a suite is once loaded: cases, the suite's settings, and the cells they expand to.

Kept apart from the loader (harness.suite, which needs yaml, pydantic and jsonschema) so
that code handling loaded suites (the worker process unpickling cells, the parsed-suite
cache) does not pay for importing the loader.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from harness.targets import TargetSpec, selected
from harness.types import Message, Request, Tool


@dataclass(frozen=True)
class Case:
    id: str
    vars: Mapping[str, Any]
    assertions: tuple[Mapping[str, Any], ...]
    threshold: float | None
    source: str  # "file:line" where the case is defined
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: Transforms (expressions or module:function) every assertion of the case sees.
    transform: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    targets: tuple[TargetSpec, ...]
    temperatures: tuple[float | None, ...]
    repeat: int
    max_tokens: int
    timeout_s: float
    stream: bool
    structured: Literal["none", "native", "json"]
    seed: int | None
    templates: tuple[tuple[str, str], ...]  # (role, template source)
    schema: dict[str, Any] | None
    tools: tuple[Tool, ...]
    tool_choice: str | None
    assertions: tuple[Mapping[str, Any], ...]
    threshold: float | None
    cases: tuple[Case, ...]
    #: Files besides the suite itself that went into it (datasets, schema): a cached parse
    #: is only valid while they are unchanged.
    sources: tuple[Path, ...] = ()
    #: Suite-level transforms, applied before the case's and each assertion's own.
    transform: tuple[str, ...] = ()
    #: (name, expression over named metrics), computed per group (harness.named_metrics).
    derived_metrics: tuple[tuple[str, str], ...] = ()

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def cells(self, target_filter: tuple[str, ...] = (), repeat: int | None = None) -> list[Cell]:
        """Stable order: case, then target, then temperature, then repeat."""
        n = repeat or self.repeat
        targets = [t for t in self.targets if selected(t, target_filter)]
        return [
            Cell(self, case, target, temp, r)
            for case in self.cases
            for target in targets
            for temp in (target.temperatures or self.temperatures)
            for r in range(n)
        ]


@dataclass(frozen=True, eq=False)
class Cell:
    suite: Suite
    case: Case
    target: TargetSpec
    temperature: float | None
    repeat: int

    # A target mapping may override these suite settings (harness.suite, per-target keys).
    @property
    def max_tokens(self) -> int:
        return self.target.max_tokens or self.suite.max_tokens

    @property
    def tools(self) -> tuple[Tool, ...]:
        return self.suite.tools if self.target.tools is None else self.target.tools

    @property
    def tool_choice(self) -> str | None:
        return self.target.tool_choice or self.suite.tool_choice

    @property
    def param_id(self) -> str:
        temp = "tdefault" if self.temperature is None else f"t{self.temperature:g}"
        return f"{self.target.id}-{temp}-r{self.repeat}"

    @property
    def name(self) -> str:
        return f"{self.case.id}[{self.param_id}]"

    @cached_property
    def messages(self) -> tuple[Message, ...]:
        from harness import templating

        return tuple(
            Message(role, templating.render(src, self.case.vars))
            for role, src in self.suite.templates
        )

    def request(self) -> Request:
        s = self.suite
        return Request(
            provider=self.target.provider,
            model=self.target.model,
            messages=self.messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            timeout_s=s.timeout_s,
            stream=s.stream,
            response_schema=s.schema if s.structured != "none" else None,
            structured=s.structured,
            tools=self.tools,
            tool_choice=self.tool_choice,
            seed=s.seed,
            repeat=self.repeat,
            options=dict(self.target.options),
        )

    @property
    def assertions(self) -> list[Mapping[str, Any]]:
        """The suite's then the case's assertions, each with the transforms that govern
        it folded into its ``transform`` list (suite, case, its own: harness.scoring)."""
        specs = list(self.suite.assertions) + list(self.case.assertions)
        outer = list(self.suite.transform) + list(self.case.transform)
        if not outer:
            return specs
        out: list[Mapping[str, Any]] = []
        for spec in specs:
            own = spec.get("transform")
            own_list = [] if own is None else list(own) if isinstance(own, list | tuple) else [own]
            out.append({**spec, "transform": outer + own_list})
        return out

    @cached_property
    def fingerprint(self) -> str:
        """Rendered prompt + output-shaping settings; the gate marks a changed one as
        'not comparable' instead of comparing different prompts."""
        s = self.suite
        data = {
            "messages": [[m.role, m.content] for m in self.messages],
            "max_tokens": self.max_tokens,
            "structured": s.structured,
            "schema": s.schema,
            "tools": [t.__dict__ for t in self.tools],
            "tool_choice": self.tool_choice,
            "assert": self.assertions,
            "threshold": self.case.threshold,
        }
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
