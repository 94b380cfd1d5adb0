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

from harness.cells import Cell
from harness.config import OPTIONS, Settings, resolve_value
from harness.errors import HarnessError
from harness.scoring import ScoreContext, run_assertions
from harness.session import RunSession
from harness.suite import load_suite
from harness.targets import TargetSpec
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
        from harness.jsonparse import parse_json

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
        outcome = self.session.calls.run(self.target, request)
        n = len(self.results)
        result = Result(
            run_id=self.session.run_id,
            suite="pytest",
            case_id=self.case_id if n == 0 else f"{self.case_id}#{n + 1}",
            target=self.target.id,
            provider=self.target.provider,
            model=self.target.model,
            temperature=self.temperature,
            repeat=self.repeat,
            status="error",
            passed=False,
            prompt=[{"role": m.role, "content": m.content} for m in messages],
            nodeid=self.case_id,
            retries=outcome.retries,
            queue_ms=outcome.queue_ms,
            cached=outcome.cached,
        )
        if outcome.error is not None or outcome.completion is None:
            result.error = str(outcome.error)
            result.error_kind = getattr(outcome.error, "kind", None)
            self._record(result)
            raise outcome.error or HarnessError("no completion")
        c = outcome.completion
        from harness.session import _fill_completion, _score_dict

        _fill_completion(result, c, outcome)
        ctx = ScoreContext(
            output=c.text,
            completion=c,
            schema=schema,
            cached=outcome.cached,
            latency_ms=c.latency_ms,
            ttft_ms=c.ttft_ms,
            cost_usd=outcome.cost_if_live_usd,
            judge=self.session.judge,
        )
        passed, scores = run_assertions(ctx, list(assertions))
        result.scores = [_score_dict(s) for s in scores]
        result.schema_valid = next((s.passed for s in scores if s.name == "schema-valid"), None)
        result.passed = passed
        result.status = "passed" if passed else "failed"
        self._record(result)
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
    from harness.finish import finish_run

    settings = settings_from(Path(rootdir).resolve(), **options)
    session = RunSession(settings)
    try:
        cells: list[Cell] = []
        for f in collect_suite_files(paths):
            suite = load_suite(f)
            cells.extend(suite.cells(settings.targets, settings.repeat))
        session.note_cells(cells)
        session.prefetch((c, "") for c in cells)
        for i, cell in enumerate(cells, start=1):
            reason = session.skip_reason(cell)
            if reason:
                session.record(session.skipped_verdict(cell, reason).result)
            else:
                evaluated = session.evaluate(cell)
                session.record(None, evaluated.data, evaluated.job)
            done = session.progress()
            if progress and done is not None and (i % 50 == 0 or i == len(cells)):
                progress(f"{i}/{len(cells)} cells; " + done.line())
        finish = finish_run(session)
        if progress:
            for title, text in finish.sections:
                progress(f"== {title} ==\n{text}")
        return session.results
    finally:
        session.close()


def dumps(results: Iterable[Result]) -> str:
    return "\n".join(json.dumps(r.to_dict(), default=str) for r in results)
