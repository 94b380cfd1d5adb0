"""What a suite is once loaded: cases, the suite's settings, and the cells they expand to.

Kept apart from the loader (harness.suite.loader, which needs yaml, pydantic and jsonschema) so
that code handling loaded suites (the worker process unpickling cells, the parsed-suite
cache) does not pay for importing the loader.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from harness.suite.targets import TargetSpec, selected
from harness.types import DEFAULT_PROMPT_ID, Message, Request, Tool


# Slotted: a run holds every case (50,000 of them in a large one), and pickling a case to
# the worker would otherwise leave its instance dict built.
@dataclass(frozen=True, slots=True)
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
    #: The ids of the only targets the case runs on (empty: the suite's own targets).
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptVariant:
    """One labelled prompt of a suite: chat-message templates (role, jinja2 source)."""

    id: str
    templates: tuple[tuple[str, str], ...]
    #: Where it was written ("suite.yaml:12" or a prompt file), for messages.
    source: str = ""


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
    #: The prompt variants, the first being the reference the others are compared with.
    prompts: tuple[PromptVariant, ...]
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
    #: (name, expression over named metrics), computed per group (harness.results.named_metrics).
    derived_metrics: tuple[tuple[str, str], ...] = ()
    #: Ids of targets a case's ``targets:`` added (in ``targets``): only cases naming them
    #: run on them.
    case_targets: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type[Suite], tuple[Any, ...]]:
        # Pickled (to the worker, the only place a suite is pickled) without its cases:
        # each cell carries its own, and the worker's copy of a case is then freed with the
        # last of its cells instead of staying to the end (~0.5 KB a case there).
        values = tuple(
            () if f.name == "cases" else getattr(self, f.name) for f in dataclasses.fields(self)
        )
        return (Suite, values)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def templates(self) -> tuple[tuple[str, str], ...]:
        """The reference (first) variant's templates."""
        return self.prompts[0].templates

    def variants_for(self, target: TargetSpec) -> list[PromptVariant]:
        """The variants a target runs: all, or those its ``prompts:`` names (in suite order)."""
        if not target.prompts:
            return list(self.prompts)
        return [p for p in self.prompts if p.id in target.prompts]

    def cells(self, target_filter: tuple[str, ...] = (), repeat: int | None = None) -> list[Cell]:
        """Stable order: case, then prompt variant, then target, temperature, repeat."""
        n = repeat or self.repeat
        targets = [t for t in self.targets if selected(t, target_filter)]
        runs = {t.id: {p.id for p in self.variants_for(t)} for t in targets}
        return [
            Cell(self, case, target, temp, r, variant)
            for case in self.cases
            for variant in self.prompts
            for target in targets
            if variant.id in runs[target.id]
            and (target.id in case.targets if case.targets else target.id not in self.case_targets)
            for temp in (target.temperatures or self.temperatures)
            for r in range(n)
        ]


_T = TypeVar("_T")

#: A cell's values worked out on first use (see Cell): the rendered prompt, the fingerprints.
_CELL_CACHES = ("_messages", "_fingerprint", "_test_fingerprint", "_prompt_fingerprint")


# Slotted, its worked-out values kept in slots of their own: a run holds every cell in
# pytest's process and the worker (50,000 in a large one), and an instance dict (which
# cached_property needs) was ~100-200 bytes more each.
@dataclass(frozen=True, eq=False, slots=True)
class Cell:
    suite: Suite
    case: Case
    target: TargetSpec
    temperature: float | None
    repeat: int
    variant: PromptVariant | None = None  # None: the suite's first (a one-prompt suite)
    _messages: tuple[Message, ...] | None = field(default=None, init=False, repr=False)
    _fingerprint: str | None = field(default=None, init=False, repr=False)
    _test_fingerprint: str | None = field(default=None, init=False, repr=False)
    _prompt_fingerprint: str | None = field(default=None, init=False, repr=False)

    def __reduce__(self) -> tuple[type[Cell], tuple[Any, ...]]:
        # Pickled (to the worker) as its fields; what was worked out is worked out again
        # there if it is needed.
        fields = (self.suite, self.case, self.target, self.temperature, self.repeat)
        return (Cell, (*fields, self.variant))

    def drop_cached(self) -> None:
        """Forget the rendered prompt and fingerprints (worked out again if asked): once a
        cell has its result they would stay for the whole run (megabytes over thousands)."""
        for name in _CELL_CACHES:
            object.__setattr__(self, name, None)

    @property
    def prompt(self) -> PromptVariant:
        return self.variant or self.suite.prompts[0]

    @property
    def prompt_id(self) -> str:
        return self.prompt.id

    # A target mapping may override these suite settings (harness.suite.keys.TARGET_SETTINGS).
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

    @property
    def param_id(self) -> str:
        """``v2|openai:gpt-4o-mini-t0-r0``; the label is left out for the implicit
        ``default`` prompt so one-prompt suites keep their ids (and --lf history)."""
        temp = "tdefault" if self.temperature is None else f"t{self.temperature:g}"
        label = "" if self.prompt_id == DEFAULT_PROMPT_ID else f"{self.prompt_id}|"
        return f"{label}{self.target.id}-{temp}-r{self.repeat}"

    @property
    def name(self) -> str:
        return f"{self.case.id}[{self.param_id}]"

    def _worked_out(self, slot: str, work: Callable[[], _T]) -> _T:
        """The value kept in ``slot`` (one of _CELL_CACHES), worked out on first use."""
        value: _T | None = getattr(self, slot)
        if value is None:
            value = work()
            object.__setattr__(self, slot, value)
        return value

    @property
    def messages(self) -> tuple[Message, ...]:
        return self._worked_out("_messages", self._render)

    def _render(self) -> tuple[Message, ...]:
        from harness.suite import templating

        return tuple(
            Message(role, templating.render(src, self.case.vars))
            for role, src in self.prompt.templates
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
    def fingerprint(self) -> str:
        """Test and prompt together (the version-1 baseline fingerprint, kept so those
        baselines still pair: with them a changed prompt is 'not comparable')."""
        return self._worked_out("_fingerprint", self._v1_fingerprint)

    def _v1_fingerprint(self) -> str:
        s = self.suite
        # The exact version-1 formula: any change here breaks pairing with those files. The
        # effective settings equal the suite's unless a target or transform overrides them.
        return _digest(
            {
                "messages": [[m.role, m.content] for m in self.messages],
                "max_tokens": self.max_tokens,
                "structured": s.structured,
                "schema": s.schema,
                "tools": [t.__dict__ for t in self.tools],
                "tool_choice": self.tool_choice,
                "assert": self.assertions,
                "threshold": self.case.threshold,
            }
        )

    @property
    def test_fingerprint(self) -> str:
        """What the answer is checked against: case vars, assertions, schema, threshold,
        tools. The gate pairs a cell with its baseline while this is unchanged."""
        return self._worked_out("_test_fingerprint", lambda: _digest(self._test_data()))

    @property
    def prompt_fingerprint(self) -> str:
        """What the model is asked: rendered messages and the generation settings. A
        change is reported as 'prompt changed' and still compared."""
        return self._worked_out("_prompt_fingerprint", lambda: _digest(self._prompt_data()))

    def _test_data(self) -> dict[str, Any]:
        s = self.suite
        return {
            "vars": dict(self.case.vars),
            "schema": s.schema,
            "tools": [t.__dict__ for t in self.tools],
            "assert": self.assertions,
            "threshold": self.case.threshold,
        }

    def _prompt_data(self) -> dict[str, Any]:
        s = self.suite
        return {
            "messages": [[m.role, m.content] for m in self.messages],
            "max_tokens": self.max_tokens,
            "structured": s.structured,
            "tool_choice": self.tool_choice,
        }


def _digest(data: Mapping[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
