"""The run's hooks (HarnessPlugin, registered once per pytest run): suite collection, the
shard and prefetch of cells, records riding on test reports, progress lines, the end of the
run (harness.run.finish) and the exit without the interpreter's final GC passes."""

from __future__ import annotations

import atexit
import gc
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from harness.heap import give_back_free_memory
from harness.pytest_plugin.items import CellItem, ReportKeywords, SuiteFile
from harness.run.session import RunSession
from harness.types import Result

#: Seconds between progress lines while calls are in flight.
PROGRESS_INTERVAL_S = 5.0


class HarnessPlugin:
    def __init__(self, config: pytest.Config, session: RunSession) -> None:
        self.config = config
        self.session = session
        self.is_worker = hasattr(config, "workerinput")
        self._prefetched_suites: set[Path] = set()
        self._queued_seen: set[int] = set()
        self._last_progress = 0.0
        self._recorded: set[str] = set()
        self._terminal: Any = None
        #: Failed tests that are not suite cells (plain tests, setup errors): the gate never
        #: overrules these.
        self.other_failures = 0
        self._froze_gc = False
        # Registered before pytest's own cleanups (this plugin configures first), so it runs
        # after them: pytest's closing gc.collect() passes then skip the frozen cells.
        config.add_cleanup(self._release_frozen_cells)
        global _RUNS_IN_PROCESS, _NESTED_RUN_SEEN
        _RUNS_IN_PROCESS += 1
        _NESTED_RUN_SEEN = _NESTED_RUN_SEEN or _RUNS_IN_PROCESS > 1

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
        self.session.collection_done()
        if self.session.settings.estimate and not self.is_worker:
            self._print_estimate(session)
        if any(isinstance(i, CellItem) for i in session.items):
            # Collected items and suites live until the session ends; moving them out of the
            # cyclic collector's reach saves its repeated full passes over thousands of cells
            # (about a tenth of a 5000-cell cached run). Undone by the last config cleanup.
            gc.freeze()
            self._froze_gc = True
            # Parsing the suites freed far more than their cases keep (a YAML node per
            # value): give those pages back before the run's records start to arrive.
            give_back_free_memory()

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
        if isinstance(item, CellItem):
            if call.when == "call":
                # Rides to the xdist controller with the report. Only the call phase: a
                # cell whose setup crashed recorded nothing the gate could judge.
                report.llm_cell = True
                if not self.is_worker:
                    # Kept to the end of the session by the terminal (see ReportKeywords).
                    report.keywords = ReportKeywords(item)
            elif report.passed:
                # A passed setup or teardown of a cell: nothing reads it once it is logged
                # (see pytest_runtest_logreport_forget_phase).
                report.llm_phase = True
        results = getattr(item, "llm_results", None)
        if results and (call.when == "call" or report.skipped):
            if self.is_worker:
                # Reports travel to the xdist controller as plain data.
                results = [_as_dict(r) for r in results]
            report.llm_results = list(results)
            # Moved, so a later phase of this item finds none to report again (and items
            # live to the end of the session).
            # A cell's is an empty tuple (one list less per cell); a plain test's a list its
            # llm fixture may still append to.
            item.llm_results = () if isinstance(item, CellItem) else []  # type: ignore[attr-defined]
            # The record as the worker process encoded it (None: encoded when written).
            # Moved, not copied: items and reports live to the end of the session.
            report.llm_line = getattr(item, "llm_line", None)
            item.llm_line = None  # type: ignore[attr-defined]
            if report.failed and not isinstance(item, CellItem):
                # A plain test's own assertions decide it: its calls were scored by their
                # own checks only, so a failing test must not be recorded as passed.
                report.llm_results = [_failed_by_test(_as_dict(r), report) for r in results]
                report.llm_line = None
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(
        self, config: pytest.Config, report: pytest.TestReport
    ) -> Generator[None, Any, Any]:
        # A report leaving as data (pytest-reportlog's JSON lines, or any plugin's) carries
        # pytest's own dict of keywords, and its records as plain data.
        if isinstance(getattr(report, "keywords", None), ReportKeywords):
            report.keywords = dict(report.keywords)
        data = yield
        if not self.is_worker and isinstance(data, dict) and data.get("llm_results"):
            # (An xdist worker's records are dicts already, and its encoded line goes to
            # the controller as bytes, which execnet carries.)
            data["llm_results"] = [_as_dict(r) for r in data["llm_results"]]
            data["llm_line"] = None
        return data

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and not getattr(report, "llm_cell", False):
            self.other_failures += 1
        results = getattr(report, "llm_results", None)
        if not results or self.is_worker or report.nodeid in self._recorded:
            return
        self._recorded.add(report.nodeid)
        line = getattr(report, "llm_line", None)
        # A cell's Result is held by nothing else from here on (a plain test's by the test).
        owned = bool(getattr(report, "llm_cell", False))
        for record in results:
            # Written now, as the cell is reported: a reported cell is on disk.
            self.session.record(record, line, owned=owned)
        # Recorded: the session holds the records from here on. Reports live to the end of
        # the session (the terminal keeps them), and a second reference to every record
        # kept each one alive beside its Result at the end (~4 KB a cell).
        report.llm_results = ()  # type: ignore[attr-defined]
        report.llm_line = None  # type: ignore[attr-defined]
        self._maybe_progress()

    @pytest.hookimpl(specname="pytest_runtest_logreport", trylast=True)
    def pytest_runtest_logreport_forget_phase(self, report: pytest.TestReport) -> None:
        """Take a cell's passed setup or teardown report back out of the terminal's stats.

        The terminal keeps every report it logs to the end of the session; it files these
        under "" and never reads them again ("setup/teardown reports ... ignore them", in
        TerminalReporter._set_main_color). Two of a cell's three reports, ~1.5 KB a cell:
        75 MB at 50,000 cells. Only the report it has just filed is taken back.
        """
        if not getattr(report, "llm_phase", False):
            return
        tr = self._terminal
        if tr is None:
            tr = self._terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        filed = getattr(tr, "stats", {}).get("")
        if filed and filed[-1] is report:
            filed.pop()

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

    @pytest.hookimpl(tryfirst=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._froze_gc and _RUNS_IN_PROCESS == 1 and not _NESTED_RUN_SEEN:
            # pytest's closing hooks make full collections of their own, for unraisable
            # exceptions: after 5000 cells each went over every result, record and module
            # the run left (~0.08 s each, twice). One collection here first, while pytest's
            # hook still catches what a finalizer raises, then what survives is frozen and
            # their passes go over only what is made after this. Not after runs nested in
            # this one (pytester): what they leave is still referenced here, and frozen it
            # would be finalized only at exit, its warnings past pytest's reach.
            gc.collect()
            gc.freeze()

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
#: A run was nested in another in this process (pytester's in-process runs).
_NESTED_RUN_SEEN = False


def _as_dict(record: Result | dict[str, Any]) -> dict[str, Any]:
    return record if isinstance(record, dict) else record.to_dict()


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
