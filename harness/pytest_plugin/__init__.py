"""pytest entry point (pytest11): wires pytest to the harness pipeline. Nothing imports this.

- options: one ``llm-harness`` group, every ``--llm-*`` flag with an ``llm_*`` ini twin and
  parsed by harness.config (a bad value is a UsageError naming the valid ones);
- collection: YAML suites under the suite dirs become one CellItem per
  case x target x temperature x repeat, marked with the provider's name; ``--llm-shard K/N``
  then deselects every item outside shard K (harness.run.shard);
- execution: the first cell of a suite submits the calls of all the suite's cells this process
  will run (under xdist: the cells queued on this worker), so calls overlap scoring;
- records: each cell's Result rides on its test report (``report.llm_results``), so under xdist
  the controller receives every result and alone writes results.jsonl and the summary;
- plain tests: ``@pytest.mark.llm(targets=[...], temperatures=[...], repeat=N)`` plus the
  ``llm`` fixture.
"""

from __future__ import annotations

import atexit
import gc
import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from harness.config import OPTIONS, OPTIONS_BY_NAME, Option, Settings, resolve_value
from harness.errors import ConfigError, SuiteError
from harness.run.session import RunSession
from harness.suite.targets import TargetProblem, parse_target, selected

if TYPE_CHECKING:
    from harness.suite.model import Cell

SESSION_KEY = pytest.StashKey[RunSession]()
#: Seconds between progress lines while calls are in flight.
PROGRESS_INTERVAL_S = 5.0


# ---------------------------------------------------------------------------------------
# Options


def _cli_type(option: Option) -> Any:
    def parse(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError as exc:
            raise pytest.UsageError(f"{option.cli}: {exc}") from None

    parse.__name__ = option.name
    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-harness", "LLM evaluation (llm-harness)")
    for opt in OPTIONS:
        if opt.flag:
            group.addoption(opt.cli, dest=opt.ini, action="store_true", default=None, help=opt.help)
        else:
            group.addoption(
                opt.cli,
                dest=opt.ini,
                type=_cli_type(opt),
                default=None,
                metavar=opt.metavar,
                help=opt.help,
            )
        parser.addini(opt.ini, f"{opt.help} (ini twin of {opt.cli})", default=None)


#: Options whose value is a path: relative ones are resolved where they were written.
_PATH_OPTIONS = ("out", "cache_dir", "prices", "save_baseline", "baseline")


def project_dir(config: pytest.Config) -> Path:
    """The project the run belongs to: the ini file's folder, else where pytest was run.

    Not pytest's rootdir: without an ini file pytest takes the common ancestor of every
    argument that names an existing path, option values included, so an absolute
    ``--llm-cache-dir`` elsewhere moved it (to ``/``) as soon as that folder existed.
    """
    inipath = getattr(config, "inipath", None)
    return Path(inipath).parent if inipath else Path(config.invocation_params.dir)


def _settings(config: pytest.Config) -> Settings:
    values: dict[str, Any] = {}
    project = project_dir(config)
    for opt in OPTIONS:
        ini = config.getini(opt.ini)
        cli = config.getoption(opt.ini)
        try:
            value = resolve_value(
                opt, cli=cli, ini=ini if isinstance(ini, str) else None, env=os.environ
            )
        except ValueError as exc:
            source = f"ini {opt.ini}" if ini else f"${opt.env}"
            raise pytest.UsageError(f"{source}: {exc}") from None
        # git:REF:PATH names a committed file, not a path on disk (Settings keeps it as is).
        if opt.name in _PATH_OPTIONS and value not in (None, "") and not str(value).startswith(
            "git:"
        ):
            # A path typed on the command line or set in the shell is relative to where the
            # command ran; one in the ini file to the ini file's folder.
            from_ini = cli is None and ini not in (None, "")
            base = project if from_ini else Path(config.invocation_params.dir)
            value = base / Path(str(value)).expanduser()
        values[opt.name] = value
    return Settings.build(project, values)


# ---------------------------------------------------------------------------------------
# Session wiring


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm(targets=[...], temperatures=[...], repeat=1): run the test once per "
        "target x temperature x repeat with an `llm` fixture bound to that cell",
    )
    from harness.providers import PROVIDERS

    for info in PROVIDERS.values():
        config.addinivalue_line(
            "markers", f"{info.marker}: cells that call the {info.marker} provider"
        )
    settings = _settings(config)
    if settings.prices is not None:
        # Checked here so a bad price file is one usage error, not a failure in every cell.
        from harness.calls.pricing import load_prices, read_price_file

        try:
            load_prices(read_price_file(settings.prices))
        except ConfigError as exc:
            raise pytest.UsageError(f"--llm-prices: {exc}") from None
    workerinput = getattr(config, "workerinput", None)
    if settings.shard is not None and settings.save_baseline is not None:
        raise pytest.UsageError(
            f"--llm-save-baseline with --llm-shard {settings.shard}: a shard's baseline would "
            "hold only its share of the cells\n  fix: merge the shards' runs and write the "
            "baseline from the merged run: llm-harness report RUN... -o merged/report.html "
            "--save-baseline PATH"
        )
    if settings.baseline is not None and workerinput is None:
        # A missing or broken baseline stops the run before any paid call.
        from harness.gate import load_baseline, load_gate_settings

        try:
            load_baseline(settings.baseline, cwd=settings.rootdir)
            load_gate_settings(settings.rootdir)
        except ConfigError as exc:
            raise pytest.UsageError(f"--llm-baseline: {exc}") from None
    from harness.run.signals import sigterm_as_interrupt

    sigterm_as_interrupt()  # CI cancellation ends the run like Ctrl-C: results written
    run_id = workerinput.get("llm_run_id") if workerinput else None
    session = RunSession(settings, run_id=run_id, write=workerinput is None)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(HarnessPlugin(config, session), "llm-harness-session")


class HarnessPlugin:
    def __init__(self, config: pytest.Config, session: RunSession) -> None:
        self.config = config
        self.session = session
        self.is_worker = hasattr(config, "workerinput")
        self._prefetched_suites: set[Path] = set()
        self._queued_seen: set[int] = set()
        self._last_progress = 0.0
        self._recorded: set[str] = set()
        #: Failed tests that are not suite cells (plain tests, setup errors): the gate never
        #: overrules these.
        self.other_failures = 0
        self._froze_gc = False
        # Registered before pytest's own cleanups (this plugin configures first), so it runs
        # after them: pytest's closing gc.collect() passes then skip the frozen cells.
        config.add_cleanup(self._release_frozen_cells)
        global _RUNS_IN_PROCESS
        _RUNS_IN_PROCESS += 1

    # -- xdist ---------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["llm_run_id"] = self.session.run_id

    # -- collection ----------------------------------------------------------------

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if file_path.suffix not in (".yaml", ".yml"):
            return None
        if not self._is_suite_path(file_path):
            return None
        return SuiteFile.from_parent(parent, path=file_path)

    def _is_suite_path(self, path: Path) -> bool:
        # Suite folders are looked for in the project and where pytest was run, never only
        # under pytest's rootdir, which moves with the arguments (see project_dir).
        roots = {self.session.settings.rootdir, Path(self.config.invocation_params.dir)}
        parents = path.resolve().parents
        for d in self.session.settings.suite_dirs:
            if any((root / d).resolve() in parents for root in roots):
                return True
        # An explicitly named YAML file is a suite wherever it lives.
        return any(Path(a.split("::")[0]).resolve() == path.resolve() for a in self.config.args)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """--llm-shard K/N: keep shard K's items, deselected like -k (so no call is made for
        the others; the worker sends nothing for a cell pytest did not select)."""
        shard = self.session.settings.shard
        if shard is None:
            return
        from harness.run.shard import cell_identity

        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            if isinstance(item, CellItem):
                c = item.cell
                identity = cell_identity(
                    c.suite.name, str(c.case.id), c.target.id, c.temperature, c.repeat
                )
            else:
                identity = "test\x1f" + item.nodeid
            (keep if shard.keeps(identity) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.session.settings.estimate and not self.is_worker:
            self._print_estimate(session)
        if any(isinstance(i, CellItem) for i in session.items):
            # Collected items and suites live until the session ends; moving them out of the
            # cyclic collector's reach saves its repeated full passes over thousands of cells
            # (about a tenth of a 5000-cell cached run). Undone by the last config cleanup.
            gc.freeze()
            self._froze_gc = True

    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.session.settings.estimate:
            return True  # --llm-estimate: collect and price, send nothing
        return None

    def _print_estimate(self, session: pytest.Session) -> None:
        from harness.calls.estimate import estimate_calls, format_estimate, judge_requests

        cells = [i.cell for i in session.items if isinstance(i, CellItem)]
        runner = self.session.runner
        requests: list[tuple[str, Any]] = []
        refused = 0
        for cell in cells:
            if self.session.skip_reason(cell) is not None:
                continue
            request = self.session.request_for(cell)
            if runner.refusal(cell.target, request) is not None:
                refused += 1
            elif runner.lookup(cell.target, request) is None:
                requests.append((cell.target.id, request))
                # llm-rubric assertions make judge calls of their own: count them too.
                specs = [*cell.suite.assertions, *cell.case.assertions]
                requests += judge_requests(request, specs, cell.case.vars)
        rows = estimate_calls(requests, runner.prices)
        tr = self.config.pluginmanager.getplugin("terminalreporter")
        not_sent = f", {refused} would not be sent (unsupported settings)" if refused else ""
        text = (
            f"llm-harness estimate: {len(cells)} cells, {len(requests)} calls would miss "
            f"the cache{not_sent}; nothing was sent\n" + format_estimate(rows)
        )
        if tr is not None:
            tr.write_sep("=", "llm-harness estimate")
            tr.write_line(text)
        else:
            print(text)

    # -- execution -----------------------------------------------------------------

    def prefetch_for(self, item: CellItem) -> None:
        if self.is_worker:
            self._prefetch_worker_queue(item)
            return
        suite_path = item.cell.suite.path
        if suite_path in self._prefetched_suites:
            return
        self._prefetched_suites.add(suite_path)
        assert item.session is not None
        cells = [
            (i.cell, i.nodeid)
            for i in item.session.items
            if isinstance(i, CellItem) and i.cell.suite.path == suite_path
        ]
        self.session.prefetch(cells)

    def _prefetch_worker_queue(self, item: CellItem) -> None:
        """Under xdist a worker only knows the items queued on it; submit those (newest
        first, stopping at the first already seen) so no call is sent by two workers."""
        items = item.session.items
        queued: list[int] = []
        interactor = next(
            (
                p
                for p in self.config.pluginmanager.get_plugins()
                if type(p).__name__ == "WorkerInteractor"
            ),
            None,
        )
        torun = getattr(interactor, "torun", None)
        if torun is not None:
            with torun.lock() as pending:
                for index in reversed(pending):
                    if not isinstance(index, int):
                        continue
                    if index in self._queued_seen:
                        break
                    queued.append(index)
        self._queued_seen.update(queued)
        cells = [(item.cell, item.nodeid)]
        for i in reversed(queued):
            queued_item = items[i]
            if isinstance(queued_item, CellItem):
                cells.append((queued_item.cell, queued_item.nodeid))
        self.session.prefetch(cells)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, Any]:
        report = yield
        if isinstance(item, CellItem) and call.when == "call":
            # Rides to the xdist controller with the report. Only the call phase: a cell
            # whose setup crashed recorded nothing the gate could judge.
            report.llm_cell = True
        results = getattr(item, "llm_results", None)
        if (
            results
            and not getattr(item, "_llm_reported", False)
            and (call.when == "call" or report.skipped)
        ):
            report.llm_results = list(results)
            # The record as the worker process encoded it (None: encoded when written).
            # Moved, not copied: items and reports live to the end of the session.
            report.llm_line = getattr(item, "llm_line", None)
            item.llm_line = None  # type: ignore[attr-defined]
            if report.failed and not isinstance(item, CellItem):
                # A plain test's own assertions decide it: its calls were scored by their
                # own checks only, so a failing test must not be recorded as passed.
                report.llm_results = [_failed_by_test(d, report) for d in results]
                report.llm_line = None
            item._llm_reported = True  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and not getattr(report, "llm_cell", False):
            self.other_failures += 1
        results = getattr(report, "llm_results", None)
        if not results or self.is_worker or report.nodeid in self._recorded:
            return
        self._recorded.add(report.nodeid)
        line = getattr(report, "llm_line", None)
        for data in results:
            # Made into a Result only when the run's results are read (finish), not here.
            # Written now, as the cell is reported: a reported cell is on disk.
            self.session.record(None, data, line)
        report.llm_line = None  # type: ignore[attr-defined]  # written; reports are kept
        self._maybe_progress()

    def _maybe_progress(self) -> None:
        p = self.session.progress()
        now = time.monotonic()
        if p is None or now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        if p.done >= p.submitted:
            return
        tr = self.config.pluginmanager.getplugin("terminalreporter")
        if tr is not None and self.config.get_verbosity() >= 0:
            tr.write_line(f"[llm] {p.line()}")

    # -- end of session ------------------------------------------------------------

    def _release_frozen_cells(self) -> None:
        """The last config cleanup: give the frozen cells back to the collector when an
        outer run goes on, else leave them frozen for a quick interpreter exit."""
        global _RUNS_IN_PROCESS
        _RUNS_IN_PROCESS -= 1
        if not self._froze_gc:
            return
        self._froze_gc = False
        if _RUNS_IN_PROCESS > 0:
            # A run inside another (pytester): the outer run goes on, so its collector
            # gets these objects back.
            gc.unfreeze()
        else:
            # The outermost run is ending and the process with it: leave the cells frozen
            # and exit without the final collections over them.
            _skip_final_gc_at_exit()

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # No new call after Ctrl-C or SIGTERM; the finished cells are still written. First:
        # the terminal reporter's own hook spends most of a second formatting a traceback.
        self.session.halt_calls()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        try:
            if self.is_worker:
                return
            from harness.run.finish import finish_run

            outcome = finish_run(self.session)
            self.finish = outcome
            if outcome.gate_failed:
                from harness.gate import GATE_EXIT_CODE

                session.exitstatus = GATE_EXIT_CODE
            elif outcome.budget_cut and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED
            ):
                from harness.calls.budget import BUDGET_EXIT_CODE

                session.exitstatus = BUDGET_EXIT_CODE
            elif (
                outcome.gate_ran
                and self.session.settings.gate == "fail"
                and session.exitstatus == pytest.ExitCode.TESTS_FAILED
                and self.other_failures == 0
            ):
                # Under --llm-gate=fail the baseline comparison judges the suite cells: cells
                # that also failed in the baseline are not a reason to fail the build.
                session.exitstatus = pytest.ExitCode.OK
        finally:
            self.session.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        finish = getattr(self, "finish", None)
        if finish is None or self.is_worker:
            return
        for title, text in finish.sections:
            terminalreporter.write_sep("=", title)
            terminalreporter.write_line(text)


def _skip_final_gc_at_exit() -> None:
    """After a run of many cells, let the interpreter exit without its final collections.

    At shutdown CPython runs full GC passes while it tears modules down; over the objects
    of a 5000-cell run they took 0.6-0.9 s, longer than the cells' own scoring. One ordinary
    collection first (so finalizers of garbage still run), then everything left is frozen
    and shutdown only frees it by reference counting. Registered once per process, and only
    by runs that had cells: a project's plain test runs exit as they always did.
    """
    global _EXIT_HOOK_REGISTERED
    if _EXIT_HOOK_REGISTERED:
        return
    _EXIT_HOOK_REGISTERED = True

    def collect_then_freeze() -> None:
        gc.collect()
        gc.freeze()

    atexit.register(collect_then_freeze)


_EXIT_HOOK_REGISTERED = False
#: pytest runs with this plugin alive in this process: more than one only under pytester.
_RUNS_IN_PROCESS = 0


# ---------------------------------------------------------------------------------------
# Suite collection


#: Suite name -> the file that uses it: two suites with one name would share results ids.
_SUITE_NAMES_KEY = pytest.StashKey[dict[str, str]]()


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        session = self.config.stash[SESSION_KEY]
        settings = session.settings
        try:
            from harness.suite.parsed_cache import load_suite_cached

            cache_dir = settings.resolved_cache_dir if settings.cache.uses_folder else None
            suite = load_suite_cached(self.path, cache_dir)
        except SuiteError as exc:
            exc.path = _shorten(exc.path, self.config.invocation_params.dir)
            raise self.CollectError(exc.render()) from None
        from harness.suite.inputguards import run_wide_problem

        where = _shorten(str(self.path), self.config.invocation_params.dir)
        names = self.config.stash.setdefault(_SUITE_NAMES_KEY, {})
        cells = suite.cells(settings.targets, settings.repeat)
        problem = run_wide_problem(suite, where, names, len(cells))
        if problem is not None:
            raise self.CollectError(problem)
        session.note_cells(cells)
        for cell in cells:
            item = CellItem.from_parent(self, name=cell.name, cell=cell)
            item.add_marker(cell.target.marker)
            yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SuiteError | ConfigError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


def _shorten(path_text: str, base: Path) -> str:
    """Show a path relative to where pytest was started (keeping any ':line' suffix)."""
    path, sep, rest = path_text.partition(":")
    try:
        return str(Path(path).resolve().relative_to(base.resolve())) + sep + rest
    except ValueError:
        return path_text


class CellFailed(Exception):
    """A cell's assertions failed or its call errored; the message is the whole story."""


def _skip(reason: str) -> NoReturn:
    """Skip a cell, reported at the suite file (not at this module's line) in -rs output."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


class CellItem(pytest.Item):
    def __init__(self, *, cell: Cell, **kwargs: Any) -> None:
        parent: Any = kwargs.get("parent")
        if "nodeid" not in kwargs and hasattr(parent, "id"):
            # pytest 9 keeps ids structured, params apart from the name, as it does for a
            # parametrized test; built the same way, --lf and --sw recognise this cell.
            kwargs["nodeid"] = parent.id.child(str(cell.case.id)).with_params(cell.param_id)
        super().__init__(**kwargs)
        self.cell = cell
        self.llm_results: list[dict[str, Any]] = []
        self.llm_line: bytes | None = None

    @property
    def _harness(self) -> HarnessPlugin:
        plugin = self.config.pluginmanager.get_plugin("llm-harness-session")
        assert isinstance(plugin, HarnessPlugin)
        return plugin

    def setup(self) -> None:
        session = self.config.stash[SESSION_KEY]
        reason = session.skip_reason(self.cell)
        if reason:
            self.llm_results = [session.skipped(self.cell, reason, self.nodeid).to_dict()]
            _skip(reason)

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        self._harness.prefetch_for(self)
        evaluated = session.evaluate(self.cell, self.nodeid)
        data = evaluated.data
        self.llm_results = [data]
        self.llm_line = evaluated.line
        if data["status"] == "skipped":
            _skip(data.get("skip_reason") or "skipped")
        if evaluated.message:
            raise CellFailed(evaluated.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CellFailed | ConfigError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # The suite file, so `-rs` groups a target's skips per suite instead of listing every
        # case (and never points at this module).
        return self.path, 0, f"{self.cell.suite.name}::{self.name}"


# ---------------------------------------------------------------------------------------
# Plain tests: @pytest.mark.llm + the llm fixture


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("llm")
    if marker is None or "llm" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[SESSION_KEY]
    targets = marker.kwargs.get("targets") or (marker.args[0] if marker.args else None)
    if not targets:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.llm needs targets=['provider:model', ...]"
        )
    temperatures = marker.kwargs.get("temperatures", [None])
    repeat = (
        resolve_value(
            OPTIONS_BY_NAME["repeat"],
            cli=session.settings.repeat,
            suite=marker.kwargs.get("repeat"),
        )
        or 1
    )
    params = []
    for raw in targets:
        try:
            target = parse_target(raw)
        except TargetProblem as exc:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {exc}") from None
        if not selected(target, session.settings.targets):
            continue
        for temp in temperatures:
            for r in range(repeat):
                temp_id = "tdefault" if temp is None else f"t{temp:g}"
                params.append(
                    pytest.param(
                        (target, temp, r),
                        id=f"{target.id}-{temp_id}-r{r}",
                        marks=getattr(pytest.mark, target.marker),
                    )
                )
    metafunc.parametrize("llm", params, indirect=True)


def _failed_by_test(data: dict[str, Any], report: pytest.TestReport) -> dict[str, Any]:
    """A plain test's call record, marked failed because the test itself failed."""
    if data.get("status") not in ("passed", "failed"):
        return data
    crash = getattr(report.longrepr, "reprcrash", None)
    reason = getattr(crash, "message", None) or f"{report.when} failed"
    first_line = reason.splitlines()[0]
    score = {"name": "test", "passed": False, "value": None, "reason": first_line, "weight": 1.0}
    return {
        **data,
        "status": "failed",
        "passed": False,
        "scores": [*data.get("scores", []), score],
    }


@pytest.fixture
def llm(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A cached, recorded LLM client bound to one target x temperature x repeat.

    ``llm.complete(prompt, system=..., schema=..., max_tokens=...)`` returns an LLMResponse
    (``.text``, ``.json()``, ``.completion``, ``.cached``, ``.cost_usd``); every call is
    recorded in results.jsonl under suite "pytest" with the test's node id as the case.
    """
    from harness.api import CellClient

    param = getattr(request, "param", None)
    if param is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the llm fixture needs @pytest.mark.llm(targets=[...])"
        )
    target, temperature, repeat = param
    session = request.config.stash[SESSION_KEY]
    env = target.missing_key()
    if env and not session.settings.cache.offline:
        pytest.skip(f"{target.id}: {env} is not set; set it to run this target")
    node = request.node
    node.llm_results = []
    client = CellClient(
        session,
        target,
        temperature,
        repeat,
        case_id=node.nodeid,
        on_result=lambda r: node.llm_results.append(r.to_dict()),
    )
    yield client


@pytest.fixture
def llm_simulator() -> Iterator[Any]:
    """A running provider simulator (harness.simulator.Simulator) on 127.0.0.1."""
    from harness.simulator import Simulator

    with Simulator() as sim:
        yield sim
