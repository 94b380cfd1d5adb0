"""The Engine: the one place where a cell, or an ad-hoc request, becomes its scored Result.

    render (request_for) -> cache lookup and call (through ``Calls``) -> scorers -> Result

pytest's process, the worker child (harness.run.worker.child) and the library API
(``api.CellClient``, the ``llm`` fixture) all use it, so a record means the same whichever
process made it. The Engine holds no run state beyond the requests it has rendered: it does
not know whether its calls go to an in-process Runner or to the worker process (that is a
backend's business, harness.run.backends), and it does not write records (RunSession does).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.calls.cache import cache_key
from harness.errors import BudgetExceeded, CacheMiss, HarnessError, ProviderError, Unsupported
from harness.suite.targets import TargetSpec, parse_target
from harness.types import Completion, Message, Request, Result, Score

if TYPE_CHECKING:
    import concurrent.futures

    from harness.calls.cache import ResponseCache
    from harness.calls.outcome import CallOutcome
    from harness.config import Settings
    from harness.suite.model import Cell


class Calls(Protocol):
    """Where calls go: the in-process Runner or the worker process (WorkerClient)."""

    def run(self, target: TargetSpec, request: Request) -> CallOutcome: ...

    def submit_many(
        self, calls: Iterable[tuple[TargetSpec, Request]]
    ) -> list[concurrent.futures.Future[CallOutcome]]: ...


@dataclass(frozen=True)
class Evaluated:
    """A cell's result as the test item reports it."""

    result: Result
    #: Failure text for the test report (None when passed or skipped).
    message: str | None
    #: The record already encoded as one results.jsonl line (the worker's answers carry
    #: it, so pytest's process writes it as it is, without encoding it again).
    line: bytes | None = None


@dataclass(frozen=True)
class CellVerdict:
    result: Result
    #: Human-readable failure text for the test report (None when passed/skipped).
    message: str | None


class Engine:
    """Turns cells and ad-hoc requests into scored Results.

    ``cache`` and ``calls`` are given as functions because what they return is built on
    first use (a run whose cells are all skipped opens no cache and starts no runner) and,
    for ``calls``, may change once while cells are collected (the worker process starts).
    """

    def __init__(
        self,
        settings: Settings,
        run_id: str,
        *,
        cache: Callable[[], ResponseCache],
        calls: Callable[[], Calls],
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self._cache = cache
        self._calls = calls
        self._requests: dict[int, Request] = {}

    # -- rendering -------------------------------------------------------------------

    def request_for(self, cell: Cell) -> Request:
        # Built once per cell: prefetch and scoring both need it, and rendering is not free.
        request = self._requests.get(id(cell))
        if request is None:
            request = cell.request()
            if self.settings.timeout is not None:
                request = replace(request, timeout_s=self.settings.timeout)
            self._requests[id(cell)] = request
        return request

    def forget(self, cell: Cell) -> None:
        """Drop what was worked out for a cell once its result exists: its request and
        rendered prompt would otherwise stay for the whole run (megabytes over thousands)."""
        self._requests.pop(id(cell), None)
        cell.drop_cached()

    def skip_reason(self, cell: Cell) -> str | None:
        """Why a cell is skipped before any call, or None. A missing key is a skip naming
        the variable. When the cache mode needs no key for what the cache holds (replay), a
        miss on a target whose key is missing is skipped too (it could never have been
        recorded here), while a miss on a target with its key set fails as a replay miss."""
        env = cell.target.missing_key()
        if not env:
            return None
        if not self.settings.cache.offline:
            return f"{cell.target.id}: {env} is not set; set it to run this target"
        key = cache_key(self.request_for(cell), cell.target.settings().base_url)
        if self._cache().get(key) is None:
            return f"{cell.target.id}: not in the cache and {env} is not set"
        return None

    # -- cells -------------------------------------------------------------------------

    def evaluate(self, cell: Cell, outcome: CallOutcome, nodeid: str = "") -> Evaluated:
        """Score a cell's call outcome; the cell's rendered request is dropped after."""
        verdict = self.verdict(cell, outcome, nodeid)
        self.forget(cell)
        return Evaluated(verdict.result, verdict.message)

    def failed(self, cell: Cell, error: HarnessError, nodeid: str = "") -> Evaluated:
        """A cell that got no outcome at all (the worker process ended, for one)."""
        verdict = _error_verdict(self.base_result(cell, nodeid), error)
        self.forget(cell)
        return Evaluated(verdict.result, verdict.message)

    def verdict(self, cell: Cell, outcome: CallOutcome, nodeid: str = "") -> CellVerdict:
        result = self.base_result(cell, nodeid)
        result.queue_ms = round(outcome.queue_ms, 3)
        specs = cell.assertions  # suite's then case's, with their transforms folded in
        threshold = cell.case.threshold if cell.case.threshold is not None else cell.suite.threshold
        return self._score(
            result,
            outcome,
            specs,
            threshold,
            schema=cell.suite.schema,
            vars=cell.case.vars,
            base_dir=cell.suite.base_dir,
        )

    def skipped(self, cell: Cell, reason: str, nodeid: str = "") -> Result:
        result = self.base_result(cell, nodeid)
        result.status = "skipped"
        result.skip_reason = reason
        return result

    def base_result(self, cell: Cell, nodeid: str) -> Result:
        request = self.request_for(cell)
        return Result(
            run_id=self.run_id,
            suite=cell.suite.name,
            case_id=cell.case.id,
            target=cell.target.id,
            provider=cell.target.provider,
            model=cell.target.model,
            temperature=cell.temperature,
            repeat=cell.repeat,
            status="error",
            passed=False,
            fingerprint=cell.fingerprint,
            prompt=_prompt(request.messages),
            prompt_id=cell.prompt_id,
            test_fingerprint=cell.test_fingerprint,
            prompt_fingerprint=cell.prompt_fingerprint,
            vars=_jsonable(dict(cell.case.vars)),
            nodeid=nodeid,
            started_at=time.time(),
            description=cell.case.description,
            metadata=_jsonable(dict(cell.case.metadata)),
            derived_metrics=dict(cell.suite.derived_metrics),
        )

    # -- ad-hoc requests (the llm fixture, api.CellClient) ------------------------------

    def complete(
        self,
        target: TargetSpec,
        request: Request,
        *,
        case_id: str,
        nodeid: str,
        schema: dict[str, Any] | None,
        assertions: Sequence[Mapping[str, Any]],
    ) -> tuple[Result, CallOutcome]:
        """Call and score one request that is not a suite cell. The Result is recorded
        under suite "pytest"; the caller raises the outcome's error, if any, after
        recording it."""
        outcome = self._calls().run(target, request)
        result = Result(
            run_id=self.run_id,
            suite="pytest",
            case_id=case_id,
            target=target.id,
            provider=target.provider,
            model=target.model,
            temperature=request.temperature,
            repeat=request.repeat,
            status="error",
            passed=False,
            prompt=_prompt(request.messages),
            nodeid=nodeid,
            queue_ms=outcome.queue_ms,
        )
        if outcome.error is None and outcome.completion is None:
            outcome = replace(outcome, error=HarnessError("no completion"))
        if outcome.error is not None:
            # Raised to the test by the caller: the record says what failed, with the
            # provider's own error kind (or none), and is an error whatever the cause.
            result.retries, result.cached = outcome.retries, outcome.cached
            result.error = str(outcome.error)
            result.error_kind = getattr(outcome.error, "kind", None)
            return result, outcome
        verdict = self._score(result, outcome, list(assertions), None, schema=schema)
        return verdict.result, outcome

    def judge(self, target: str, messages: list[dict[str, str]]) -> Completion:
        """Run a judge call (llm-rubric) through the same cached, retried calls."""
        from harness.scoring.rubric import JUDGE_MAX_TOKENS, verdict_format

        spec = parse_target(target)
        env = spec.missing_key()
        if env and not self.settings.cache.offline:
            raise HarnessError(f"judge {target}: {env} is not set")
        request = Request(
            provider=spec.provider,
            model=spec.model,
            messages=tuple(Message(m["role"], m["content"]) for m in messages),
            max_tokens=JUDGE_MAX_TOKENS,
            temperature=0.0 if spec.provider != "anthropic" else None,
            timeout_s=self.settings.timeout or 60.0,
            **verdict_format(spec.provider),
        )
        outcome = self._calls().run(spec, request)
        if outcome.error is not None or outcome.completion is None:
            raise HarnessError(f"judge {target} failed: {outcome.error}")
        return outcome.completion

    # -- scoring -------------------------------------------------------------------------

    def _score(
        self,
        result: Result,
        outcome: CallOutcome,
        specs: list[Any],
        threshold: float | None,
        *,
        schema: dict[str, Any] | None,
        vars: Mapping[str, Any] | None = None,
        base_dir: Path | None = None,
    ) -> CellVerdict:
        """Fill ``result`` from the outcome and run the assertions on its answer."""
        from harness.scoring import ScoreContext, run_assertions

        result.retries = outcome.retries
        result.cached = outcome.cached
        if outcome.error is not None:
            return _error_verdict(result, outcome.error)
        completion = outcome.completion
        assert completion is not None
        _fill_completion(result, completion, outcome)
        ctx = ScoreContext(
            output=completion.text,
            completion=completion,
            schema=schema,
            vars=vars if vars is not None else {},
            cached=outcome.cached,
            latency_ms=completion.latency_ms,
            ttft_ms=completion.ttft_ms,
            cost_usd=outcome.cost_if_live_usd,
            base_dir=base_dir if base_dir is not None else Path("."),
            judge=self.judge,
        )
        passed, scores = run_assertions(ctx, specs, threshold)
        result.scores = [_score_dict(s) for s in scores]
        result.schema_valid = next((s.passed for s in scores if s.name == "schema-valid"), None)
        result.passed = passed
        result.status = "passed" if passed else "failed"
        message = None if passed else _failure_message(scores, completion.text)
        return CellVerdict(result, message)


def _error_verdict(result: Result, error: HarnessError) -> CellVerdict:
    result.error = str(error)
    result.error_kind = getattr(error, "kind", type(error).__name__)
    if isinstance(error, Unsupported | BudgetExceeded):
        # Not the cell's fault: a setting the model does not take, or the run's budget
        # spent. Recorded as skipped, so neither counts as a failure of the prompt.
        result.status = "skipped"
        result.skip_reason = str(error)
        result.error = None
        return CellVerdict(result, None)
    if isinstance(error, CacheMiss):
        result.error_kind = "cache_miss"
    result.status = "error"
    kind = "call failed" if isinstance(error, ProviderError) else "not run"
    return CellVerdict(result, f"{kind}: {error}")


def _prompt(messages: Iterable[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _fill_completion(result: Result, c: Completion, outcome: CallOutcome) -> None:
    result.output = c.text
    result.tool_calls = [
        {"name": t.name, "arguments": t.arguments, "raw_arguments": t.raw_arguments, "id": t.id}
        for t in c.tool_calls
    ]
    result.finish_reason = c.finish_reason
    result.latency_ms = round(c.latency_ms, 3)
    result.ttft_ms = round(c.ttft_ms, 3) if c.ttft_ms is not None else None
    result.stall_ms = round(c.stall_ms, 3)
    result.provider_ms = round(c.provider_ms, 3) if c.provider_ms is not None else None
    tps = c.output_tokens_per_s
    result.tokens_per_s = round(tps, 3) if tps is not None else None
    result.input_tokens = c.usage.input_tokens
    result.output_tokens = c.usage.output_tokens
    result.cached_input_tokens = c.usage.cached_input_tokens
    result.cache_write_tokens = c.usage.cache_write_tokens
    result.cache_write_1h_tokens = c.usage.cache_write_1h_tokens
    result.cost_usd = outcome.cost_usd
    result.cost_if_live_usd = outcome.cost_if_live_usd


def _score_dict(s: Score) -> dict[str, Any]:
    out = {
        "name": s.name,
        "passed": s.passed,
        "value": _jsonable(s.value),
        "reason": s.reason,
        "weight": s.weight,
    }
    if s.metric is not None:  # only when the suite named one: older records lack the key
        out["metric"] = s.metric
    return out


_JSON_SCALARS = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON data. Scalars and flat mappings of scalars (a case's vars,
    most score values) are already that, and are passed through without a round trip."""
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, _JSON_SCALARS) for k, v in value.items()
    ):
        return dict(value)
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


def _failure_message(scores: list[Score], output: str) -> str:
    def line(s: Score) -> str:
        metric = f" [{s.metric}]" if s.metric else ""
        return f"  {s.name}{metric}: {s.reason or 'failed'}"

    lines = [line(s) for s in scores if not s.passed and s.weight > 0]
    # Weight-0 assertions never fail a cell: shown apart, as information.
    info = [line(s) for s in scores if not s.passed and s.weight == 0]
    shown = output if len(output) <= 300 else output[:300] + f"... ({len(output)} chars)"
    text = "assertions failed:\n" + "\n".join(lines)
    if info:
        text += "\ninformational (weight 0, not counted):\n" + "\n".join(info)
    return text + f"\n  output: {shown!r}"
