"""Run state for one session: settings, cache, runner, store, and turning calls into Results.

``RunSession`` is what the pytest plugin keeps in ``config.stash`` and what the library API
drives without pytest. It owns the pipeline from a cell to its recorded Result:
prefetch (submit calls) -> outcome -> scorers -> Result -> store (appended at once).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import platform
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import __version__
from harness.cache import CacheMode, ResponseCache, cache_key
from harness.errors import BudgetExceeded, CacheMiss, HarnessError, ProviderError, Unsupported
from harness.retry import RetryPolicy
from harness.store import RunStore, new_run_id
from harness.targets import parse_target
from harness.types import Completion, Message, Request, Result, Score

if TYPE_CHECKING:
    # Imported where used: the plugin creates a RunSession in every pytest run, and a
    # project's plain unit tests should not pay for the runner, scorers or suite loader.
    from harness.cells import Cell
    from harness.runner import CallOutcome, Progress, Runner
    from harness.worker import WorkerClient

log = logging.getLogger("harness.session")

SDK_DISTRIBUTIONS = ("openai", "anthropic", "groq", "mistralai", "llama-cpp-python")


@dataclass(frozen=True)
class Evaluated:
    """A cell's result as the test item reports it."""

    data: dict[str, Any]
    #: Failure text for the test report (None when passed or skipped).
    message: str | None
    #: The worker's id for this result when the worker computed it (it writes the record).
    job: int | None = None


@dataclass(frozen=True)
class CellVerdict:
    result: Result
    #: Human-readable failure text for the test report (None when passed/skipped).
    message: str | None


def git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    found = {"harness": __version__, "python": platform.python_version()}
    for dist in SDK_DISTRIBUTIONS:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


class RunSession:
    def __init__(self, settings: Any, *, run_id: str | None = None, write: bool = True) -> None:
        from harness.config import Settings

        assert isinstance(settings, Settings)
        self.settings = settings
        self.run_id = run_id or new_run_id()
        self.out_dir = settings.out or settings.rootdir / "reports" / "runs" / self.run_id
        self.write = write
        self.store: RunStore | None = None
        #: Every result recorded, in order; dicts (from reports, from the worker) become
        #: Results only when the run's results are read.
        self._recorded: list[Result | dict[str, Any]] = []
        self.started_at = time.time()
        self._runner: Runner | None = None
        self._cache: ResponseCache | None = None
        self._futures: dict[int, concurrent.futures.Future[CallOutcome]] = {}
        #: Worker job id of each prefetched cell (by id(cell)).
        self._replies: dict[int, int] = {}
        self._requests: dict[int, Request] = {}
        self._worker: WorkerClient | None = None
        #: Cells collected before the run was known to be big enough for a worker.
        self._noted: list[Cell] = []

    # -- pipeline pieces ---------------------------------------------------------------

    @property
    def cache(self) -> ResponseCache:
        if self._cache is None:
            self._cache = ResponseCache(self.settings.resolved_cache_dir, self.settings.cache)
        return self._cache

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            from harness.runner import Runner, RunnerSettings

            s = self.settings
            overrides: dict[str, Any] = {}
            if s.prices is not None:
                from harness.pricing import read_price_file

                overrides = dict(read_price_file(s.prices))
            self._runner = Runner(
                RunnerSettings(
                    concurrency=s.concurrency,
                    budget_usd=s.budget,
                    retry=RetryPolicy(max_retries=s.max_retries, max_total_s=s.retry_time),
                    price_overrides=overrides,
                ),
                self.cache,
            )
        return self._runner

    @property
    def calls(self) -> Runner | WorkerClient:
        """Where this run's calls go: the worker process when there is one (so limits and
        the budget stay run-wide), else the in-process runner."""
        return self._worker if self._worker is not None else self.runner

    def note_cells(self, cells: list[Cell]) -> None:
        """Collection found these cells. Once the run is big enough (see harness.worker) the
        worker process starts and gets every cell at once, so it has looked them up in the
        cache and loaded the SDKs they need by the time the first cell runs."""
        from harness.worker import AUTO_MIN_CELLS

        mode = self.settings.worker
        if mode == "off" or self.settings.estimate or not self.write:
            return  # under xdist (write=False) each pytest worker is a process already
        if self._worker is not None:
            self._worker.add_cells(cells)
            return
        self._noted.extend(cells)
        if mode == "on" or len(self._noted) >= AUTO_MIN_CELLS:
            from harness.worker import WorkerClient

            try:
                self._worker = WorkerClient(
                    self.settings, self.run_id, self.out_dir / "worker.log", self._surely_live()
                )
            except OSError as exc:  # no interpreter to start (embedded Python, limits)
                log.warning("running cells in this process: no worker process (%s)", exc)
                self.settings = replace(self.settings, worker="off")
                return
            self._worker.add_cells(self._noted)
            self._noted = []

    def _surely_live(self) -> set[str]:
        """Providers of the noted cells whose calls cannot come from the cache: it is not
        read in this mode, or holds nothing yet (a first run)."""
        mode = self.settings.cache
        empty = not (self.settings.resolved_cache_dir / "cache.db").exists()
        if mode in (CacheMode.OFF, CacheMode.REFRESH) or (mode is CacheMode.USE and empty):
            return {c.target.provider for c in self._noted if not c.target.missing_key()}
        return set()

    def request_for(self, cell: Cell) -> Request:
        # Built once per cell: prefetch and scoring both need it, and rendering is not free.
        request = self._requests.get(id(cell))
        if request is None:
            request = cell.request()
            if self.settings.timeout is not None:
                request = replace(request, timeout_s=self.settings.timeout)
            self._requests[id(cell)] = request
        return request

    def skip_reason(self, cell: Cell) -> str | None:
        """Why a cell is skipped before any call, or None. A missing key is a skip naming
        the variable. Replay mode needs no key for what the cache holds; a miss on a target
        whose key is missing is skipped too (it could never have been recorded here), while
        a miss on a target with its key set fails as a replay miss."""
        env = cell.target.missing_key()
        if not env:
            return None
        if self.settings.cache is not CacheMode.REPLAY:
            return f"{cell.target.id}: {env} is not set; set it to run this target"
        key = cache_key(self.request_for(cell), cell.target.settings().base_url)
        if self.cache.get(key) is None:
            return f"{cell.target.id}: not in the cache and {env} is not set"
        return None

    def prefetch(self, cells: Iterable[tuple[Cell, str]]) -> None:
        """Submit these (cell, nodeid) pairs once each, so their calls run (and, with a
        worker, their scoring too) while earlier cells are reported."""
        pending = self._replies if self._worker is not None else self._futures
        batch = [
            (c, nodeid)
            for c, nodeid in cells
            if id(c) not in pending and self.skip_reason(c) is None
        ]
        if not batch:
            return
        if self._worker is not None:
            for (cell, _), job in zip(batch, self._worker.evaluate_many(batch), strict=True):
                self._replies[id(cell)] = job
            return
        futures = self.runner.submit_many((c.target, self.request_for(c)) for c, _ in batch)
        for (cell, _), fut in zip(batch, futures, strict=True):
            self._futures[id(cell)] = fut

    def outcome(self, cell: Cell) -> CallOutcome:
        fut = self._futures.pop(id(cell), None)
        if fut is None:
            return self.calls.run(cell.target, self.request_for(cell))
        return fut.result()

    def forget(self, cell: Cell) -> None:
        """Drop what was worked out for a cell once its result exists: its request and
        rendered prompt would otherwise stay for the whole run (megabytes over thousands)."""
        self._requests.pop(id(cell), None)
        cell.__dict__.pop("messages", None)
        cell.__dict__.pop("fingerprint", None)

    def evaluate(self, cell: Cell, nodeid: str = "") -> Evaluated:
        """A cell's result and failure message: computed here, or by the worker process
        when there is one (which then also writes the record, see record())."""
        if self._worker is None:
            return self._score(cell, self.outcome(cell), nodeid)
        from harness.worker import WorkerGone

        job = self._replies.pop(id(cell), None)
        if job is None:
            job = self._worker.evaluate_many([(cell, nodeid)])[0]
        try:
            answer = self._worker.cell_reply(job)
        except WorkerGone as exc:
            result = self.base_result(cell, self.request_for(cell), nodeid)
            verdict = self._error_verdict(result, exc)
            return Evaluated(verdict.result.to_dict(), verdict.message)
        if answer[0] == "live":
            # A live answer is scored here: during calls the worker's one core is busy
            # with the SDKs, and this process has time while it waits (harness.worker).
            return self._score(cell, answer[1], nodeid)
        _, data, message = answer
        return Evaluated(data, message, job)

    def _score(self, cell: Cell, outcome: CallOutcome, nodeid: str) -> Evaluated:
        verdict = self.verdict(cell, outcome, nodeid)
        self.forget(cell)
        return Evaluated(verdict.result.to_dict(), verdict.message)

    def judge(self, target: str, messages: list[dict[str, str]]) -> Completion:
        """Run a judge call (llm-rubric) through the same cached, retried runner."""
        from harness.scoring.rubric import JUDGE_MAX_TOKENS, verdict_format

        spec = parse_target(target)
        env = spec.missing_key()
        if env and self.settings.cache is not CacheMode.REPLAY:
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
        outcome = self.calls.run(spec, request)
        if outcome.error is not None or outcome.completion is None:
            raise HarnessError(f"judge {target} failed: {outcome.error}")
        return outcome.completion

    # -- scoring -----------------------------------------------------------------------

    def verdict(self, cell: Cell, outcome: CallOutcome, nodeid: str = "") -> CellVerdict:
        from harness.scoring import ScoreContext, run_assertions

        request = self.request_for(cell)
        result = self.base_result(cell, request, nodeid)
        result.retries = outcome.retries
        result.queue_ms = round(outcome.queue_ms, 3)
        result.cached = outcome.cached
        if outcome.error is not None:
            return self._error_verdict(result, outcome.error)
        completion = outcome.completion
        assert completion is not None
        _fill_completion(result, completion, outcome)
        ctx = ScoreContext(
            output=completion.text,
            completion=completion,
            schema=cell.suite.schema,
            vars=cell.case.vars,
            cached=outcome.cached,
            latency_ms=completion.latency_ms,
            ttft_ms=completion.ttft_ms,
            cost_usd=outcome.cost_if_live_usd,
            base_dir=cell.suite.base_dir,
            judge=self.judge,
        )
        specs = cell.assertions
        threshold = cell.case.threshold if cell.case.threshold is not None else cell.suite.threshold
        passed, scores = run_assertions(ctx, specs, threshold)
        result.scores = [_score_dict(s) for s in scores]
        result.schema_valid = next((s.passed for s in scores if s.name == "schema-valid"), None)
        result.passed = passed
        result.status = "passed" if passed else "failed"
        message = None if passed else _failure_message(scores, completion.text)
        return CellVerdict(result, message)

    def skipped_verdict(self, cell: Cell, reason: str, nodeid: str = "") -> CellVerdict:
        result = self.base_result(cell, self.request_for(cell), nodeid)
        result.status = "skipped"
        result.skip_reason = reason
        return CellVerdict(result, None)

    def base_result(self, cell: Cell, request: Request, nodeid: str) -> Result:
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
            prompt=[{"role": m.role, "content": m.content} for m in request.messages],
            vars=_jsonable(dict(cell.case.vars)),
            nodeid=nodeid,
            started_at=time.time(),
            description=cell.case.description,
            metadata=_jsonable(dict(cell.case.metadata)),
            derived_metrics=dict(cell.suite.derived_metrics),
        )

    def _error_verdict(self, result: Result, error: HarnessError) -> CellVerdict:
        result.error = str(error)
        result.error_kind = getattr(error, "kind", type(error).__name__)
        if isinstance(error, Unsupported | BudgetExceeded):
            result.status = "skipped"
            result.skip_reason = str(error)
            result.error = None
            return CellVerdict(result, None)
        if isinstance(error, CacheMiss):
            result.error_kind = "cache_miss"
        result.status = "error"
        kind = "call failed" if isinstance(error, ProviderError) else "not run"
        return CellVerdict(result, f"{kind}: {error}")

    # -- recording and the end of the run ---------------------------------------------

    @property
    def results(self) -> list[Result]:
        """Every result recorded so far, in the order recorded."""
        if any(isinstance(r, dict) for r in self._recorded):
            self._recorded = [r if isinstance(r, Result) else Result.from_dict(r)
                              for r in self._recorded]
        return self._recorded  # type: ignore[return-value]  # all Results now

    def record(
        self, result: Result | None, data: dict[str, Any] | None = None, job: int | None = None
    ) -> None:
        """Keep a cell's result and append it to results.jsonl at once. ``data`` is the
        result's dict when the caller has it already (it came on a test report); ``job``
        names a result the worker computed and still holds: the worker writes that line
        (both processes append whole lines to the file, see RunStore)."""
        kept: Result | dict[str, Any] | None = data if data is not None else result
        assert kept is not None
        self._recorded.append(kept)
        if not self.write:
            return
        if job is not None and self._worker is not None and self._worker.alive:
            self._worker.record(job)
            return
        store = self.run_store()
        assert store is not None
        store.append(kept)

    def sync_records(self) -> None:
        """Wait until the worker has written every record sent to it (before the run's
        files are read or finished)."""
        if self._worker is not None and self._worker.alive:
            self._worker.sync()

    def run_store(self) -> RunStore | None:
        """The run directory's writer once anything was recorded (None when this process
        does not write: an xdist worker, or nothing ran)."""
        if not self.write or not self._recorded:
            return None
        if self.store is None:
            self.store = RunStore(self.out_dir)
        return self.store

    def runner_loop_lag(self) -> dict[str, float] | None:
        """The runner's event-loop lag while calls were in flight (None: no runner, no calls)."""
        if self._worker is not None:
            return self._worker.loop_lag()
        return self._runner.loop_lag() if self._runner is not None else None

    def progress(self) -> Progress | None:
        """Calls done so far (None before any was submitted)."""
        if self._worker is not None:
            return self._worker.progress
        return self._runner.progress if self._runner is not None else None

    def meta(self) -> dict[str, Any]:
        price_date = self._runner.prices.date if self._runner is not None else None
        if price_date is None:
            try:
                from harness.pricing import load_prices

                price_date = load_prices().date
            except Exception:  # metadata must never fail the run
                price_date = None
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": time.time(),
            "git_commit": git_commit(self.settings.rootdir),
            "versions": versions(),
            "price_table_date": price_date,
            # How late the runner's loop woke up while calls were in flight: latencies can
            # include up to this much client-side delay (see Runner._watch_lag).
            "loop_lag_ms": self.runner_loop_lag(),
            # Whether cells ran in a worker process beside pytest (see harness.worker).
            "worker": self._worker is not None,
            "argv": sys.argv[1:],
            "cache_mode": self.settings.cache.value,
        }

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
        if self._runner is not None:
            self._runner.close()
        if self._cache is not None:
            self._cache.close()
        if self.store is not None:
            self.store.close()


def _fill_completion(result: Result, c: Completion, outcome: CallOutcome) -> None:
    result.output = c.text
    result.tool_calls = [
        {"name": t.name, "arguments": t.arguments, "raw_arguments": t.raw_arguments, "id": t.id}
        for t in c.tool_calls
    ]
    result.finish_reason = c.finish_reason
    result.latency_ms = round(c.latency_ms, 3)
    result.ttft_ms = round(c.ttft_ms, 3) if c.ttft_ms is not None else None
    tps = c.output_tokens_per_s
    result.tokens_per_s = round(tps, 3) if tps is not None else None
    result.input_tokens = c.usage.input_tokens
    result.output_tokens = c.usage.output_tokens
    result.cached_input_tokens = c.usage.cached_input_tokens
    result.cache_write_tokens = c.usage.cache_write_tokens
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
