"""Collection: a suite file becomes one CellItem per cell (case x prompt variant x target x
temperature x repeat), marked with its provider; a cell item asks the run's session for its
scored Result and reports it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import pytest

from harness.errors import ConfigError, SuiteError
from harness.pytest_plugin.state import SESSION_KEY

if TYPE_CHECKING:
    from harness.pytest_plugin.run_hooks import HarnessPlugin
    from harness.suite.model import Cell
    from harness.types import Result


#: Suite name -> the file that uses it: two suites with one name would share results ids.
_SUITE_NAMES_KEY = pytest.StashKey[dict[str, str]]()


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        session = self.config.stash[SESSION_KEY]
        settings = session.settings
        store_parsed: list[Callable[[], None]] = []
        session.expect_suite(self.path)
        try:
            from harness.suite.parsed_cache import load_suite_cached

            cache_dir = settings.resolved_cache_dir if settings.cache.uses_folder else None
            suite = load_suite_cached(self.path, cache_dir, settings.judge, deferred=store_parsed)
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
            item.add_marker(_marker(cell.target.marker))
            yield item
        # The parsed suite is stored for the next run once the first calls are sent, not
        # now: pytest collects every item before any runs, and the worker waits for them.
        for store in store_parsed:
            session.when_calls_start(store)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SuiteError | ConfigError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


@functools.cache
def _marker(name: str) -> pytest.MarkDecorator:
    """One mark per provider, shared by its cells (by name, pytest makes a new one per
    item: three objects a cell)."""
    return getattr(pytest.mark, name)


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


class ReportKeywords(Mapping[str, Literal[1]]):
    """A cell report's ``keywords``: the names in its item's keywords, each mapping to 1, as
    pytest's own dict of them, read from the item (which lives as long as the report) instead
    of copied: a dict of six names per report is ~270 bytes, 14 MB at 50,000 cells. Not for a
    report that leaves its process (an xdist worker's): those must be plain data."""

    __slots__ = ("_item",)

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def __getitem__(self, name: str) -> Literal[1]:
        if name in self._item.keywords:
            return 1
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._item.keywords)

    def __len__(self) -> int:
        return len(self._item.keywords)

    def __repr__(self) -> str:
        return repr(dict.fromkeys(self, 1))


class CellItem(pytest.Item):
    def __init__(self, *, cell: Cell, **kwargs: Any) -> None:
        parent: Any = kwargs.get("parent")
        if "nodeid" not in kwargs and hasattr(parent, "id"):
            # pytest 9 keeps ids structured, params apart from the name, as it does for a
            # parametrized test; built the same way, --lf and --sw recognise this cell.
            kwargs["nodeid"] = parent.id.child(str(cell.case.id)).with_params(cell.param_id)
        super().__init__(**kwargs)
        self._extra_keywords = None  # the empty set pytest made (see extra_keyword_matches)
        self.cell = cell
        #: The cell's record for its report: a Result (a dict on its way to the xdist
        #: controller, see HarnessPlugin.pytest_runtest_makereport).
        self.llm_results: Sequence[Result | dict[str, Any]] = ()
        self.llm_line: bytes | None = None

    # pytest gives every node an empty set of extra -k names, which plugins rarely fill:
    # 216 bytes a cell, 11 MB at 50,000. A cell makes its set when it is first asked for
    # (with -k, or by a plugin that adds a name), not when it is built.
    _extra_keywords: set[str] | None = None

    @property
    def extra_keyword_matches(self) -> set[str]:
        if self._extra_keywords is None:
            self._extra_keywords = set()
        return self._extra_keywords

    @extra_keyword_matches.setter
    def extra_keyword_matches(self, names: set[str]) -> None:
        self._extra_keywords = names

    @property
    def _harness(self) -> HarnessPlugin:
        from harness.pytest_plugin.run_hooks import HarnessPlugin  # it imports this module

        plugin = self.config.pluginmanager.get_plugin("llm-harness-session")
        assert isinstance(plugin, HarnessPlugin)
        return plugin

    def setup(self) -> None:
        session = self.config.stash[SESSION_KEY]
        reason = session.skip_reason(self.cell)
        if reason:
            self.llm_results = (session.skipped(self.cell, reason, self.nodeid),)
            _skip(reason)

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        self._harness.prefetch_for(self)
        evaluated = session.evaluate(self.cell, self.nodeid)
        result = evaluated.result
        self.llm_results = (result,)
        self.llm_line = evaluated.line
        if result.status == "skipped":
            _skip(result.skip_reason or "skipped")
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
