"""The library API: run suites or single calls without pytest, on the same pipeline.

    from harness.api import run_suites
    results = run_suites(["evals/"], targets="local:*")

``CellClient`` is also what the pytest ``llm`` fixture hands to a plain test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import OPTIONS, Settings, resolve_value
from harness.errors import HarnessError
from harness.run.session import RunSession
from harness.suite.loader import load_suite
from harness.suite.model import Cell
from harness.suite.targets import TargetSpec
from harness.types import Completion, Message, Request, Result, Tool


@dataclass
class LLMResponse:
    text: str
    completion: Completion
    cached: bool
    cost_usd: float | None
    result: Result
    scores: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> Any:
        """The output parsed with json.loads (a ```json fence is unwrapped first)."""
        from harness.scoring.jsonparse import parse_json

        return parse_json(self.text)

    @property
    def passed(self) -> bool:
        return self.result.passed


class CellClient:
    """A client bound to one target x temperature x repeat; records every call."""

    def __init__(
        self,
        session: RunSession,
        target: TargetSpec,
        temperature: float | None,
        repeat: int,
        case_id: str,
        on_result: Callable[[Result], None] | None = None,
    ) -> None:
        self.session = session
        self.target = target
        self.temperature = temperature
        self.repeat = repeat
        self.case_id = case_id
        self.results: list[Result] = []
        self._on_result = on_result

    def complete(
        self,
        prompt: str | Sequence[Mapping[str, str]],
        *,
        system: str | None = None,
        max_tokens: int = 256,
        schema: dict[str, Any] | None = None,
        structured: str = "none",
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: str | None = None,
        stream: bool = False,
        timeout_s: float | None = None,
        assertions: Sequence[Mapping[str, Any]] = (),
    ) -> LLMResponse:
        if isinstance(prompt, str):
            messages = ([Message("system", system)] if system else []) + [Message("user", prompt)]
        else:
            messages = [Message(m["role"], m["content"]) for m in prompt]
        request = Request(
            provider=self.target.provider,
            model=self.target.model,
            messages=tuple(messages),
            max_tokens=max_tokens,
            temperature=self.temperature,
            timeout_s=timeout_s or self.session.settings.timeout or 60.0,
            stream=stream,
            response_schema=schema if structured != "none" else None,
            structured=structured,  # type: ignore[arg-type]
            tools=tuple(_tool(t) for t in tools),
            tool_choice=tool_choice,
            repeat=self.repeat,
            options=dict(self.target.options),
        )
        n = len(self.results)
        result, outcome = self.session.engine.complete(
            self.target,
            request,
            case_id=self.case_id if n == 0 else f"{self.case_id}#{n + 1}",
            nodeid=self.case_id,
            schema=schema,
            assertions=assertions,
        )
        self._record(result)
        if outcome.error is not None:
            raise outcome.error
        c = outcome.completion
        assert c is not None
        return LLMResponse(c.text, c, outcome.cached, outcome.cost_usd, result, result.scores)

    def _record(self, result: Result) -> None:
        self.results.append(result)
        if self._on_result is not None:
            self._on_result(result)
        else:
            self.session.record(result)


def _tool(raw: Mapping[str, Any]) -> Tool:
    fn = raw.get("function", raw)
    return Tool(
        name=fn["name"],
        description=fn.get("description", ""),
        parameters=fn.get("parameters") or {"type": "object", "properties": {}},
    )


def collect_suite_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.rglob("*.yaml")) + sorted(p.rglob("*.yml")))
        elif p.exists():
            files.append(p)
        else:
            raise HarnessError(f"{p}: no such file or directory")
    return files


def settings_from(rootdir: Path, **options: Any) -> Settings:
    """Settings from keyword options (as strings or values), env and defaults."""
    values = {}
    for opt in OPTIONS:
        raw = options.get(opt.name)
        cli = opt.parse(raw) if isinstance(raw, str) and opt.parse is not str else raw
        values[opt.name] = resolve_value(opt, cli=cli, env=os.environ)
    return Settings.build(rootdir, values)


def run_suites(
    paths: Iterable[str | Path],
    rootdir: str | Path = ".",
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> list[Result]:
    """Run suite files without pytest; writes the same run directory as the plugin."""
    from harness.run.finish import finish_run

    settings = settings_from(Path(rootdir).resolve(), **options)
    session = RunSession(settings)
    try:
        cells: list[Cell] = []
        for f in collect_suite_files(paths):
            suite = load_suite(f, settings.judge)
            cells.extend(suite.cells(settings.targets, settings.repeat))
        session.note_cells(cells)
        session.prefetch((c, "") for c in cells)
        for i, cell in enumerate(cells, start=1):
            reason = session.skip_reason(cell)
            if reason:
                session.record(session.skipped(cell, reason), owned=True)
            else:
                evaluated = session.evaluate(cell)
                session.record(evaluated.result, evaluated.line, owned=True)
            done = session.progress()
            if progress and done is not None and (i % 50 == 0 or i == len(cells)):
                progress(f"{i}/{len(cells)} cells; " + done.line())
        finish = finish_run(session)
        if progress:
            for title, text in finish.sections:
                progress(f"== {title} ==\n{text}")
        # In full: with a worker, the session holds its records slim.
        return list(session.details())
    finally:
        session.close()


def dumps(results: Iterable[Result]) -> str:
    return "\n".join(json.dumps(r.to_dict(), default=str) for r in results)
