"""The parsed-suite cache: a valid entry replaces the loader, and any change to the suite,
a file it reads, or a broken entry means a normal load."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import harness.suite.loader
from harness.errors import SuiteError
from harness.suite.parsed_cache import load_suite_cached

SUITE = """\
name: cached
targets: [openai:gpt-4o-mini]
structured: native
schema: item.schema.json
prompt:
  user: "Classify {{ text }}"
dataset: rows.jsonl
cases:
  - {id: inline-1, vars: {text: first}}
"""


@pytest.fixture
def suite_path(tmp_path: Path) -> Path:
    (tmp_path / "item.schema.json").write_text(json.dumps({"type": "object"}))
    (tmp_path / "rows.jsonl").write_text(json.dumps({"id": "row-1", "vars": {"text": "x"}}) + "\n")
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Paths the real loader was asked for (a cache hit does not ask)."""
    calls: list[Path] = []
    real = harness.suite.loader.load_suite

    def counting(path: Path | str, judge: str | None = None) -> harness.suite.loader.Suite:
        calls.append(Path(path))
        return real(path, judge)

    monkeypatch.setattr(harness.suite.loader, "load_suite", counting)
    return calls


def test_an_unchanged_suite_comes_from_the_cache_whole(
    suite_path: Path, tmp_path: Path, loads: list[Path]
) -> None:
    cache = tmp_path / "cache"
    first = load_suite_cached(suite_path, cache)
    second = load_suite_cached(suite_path, cache)
    assert len(loads) == 1
    assert second == first
    assert [c.name for c in second.cells()] == [c.name for c in first.cells()]
    assert [c.request() for c in second.cells()] == [c.request() for c in first.cells()]
    assert list((cache / "suites").iterdir())


def test_a_deferred_entry_is_written_only_when_the_caller_runs_it(
    suite_path: Path, tmp_path: Path, loads: list[Path]
) -> None:
    cache = tmp_path / "cache"
    deferred: list[Callable[[], None]] = []
    first = load_suite_cached(suite_path, cache, deferred=deferred)
    assert len(deferred) == 1
    assert not (cache / "suites").exists()
    deferred[0]()
    assert load_suite_cached(suite_path, cache, deferred=deferred) == first
    assert len(loads) == 1  # the second load came from the entry
    assert len(deferred) == 1  # and a hit defers nothing


def test_another_run_judge_means_a_fresh_load(
    suite_path: Path, tmp_path: Path, loads: list[Path]
) -> None:
    """The run's --llm-judge fills judge-less model-graded assertions at load time, so an
    entry loaded under one judge is not used under another."""
    cache = tmp_path / "cache"
    load_suite_cached(suite_path, cache, "openai:a")
    load_suite_cached(suite_path, cache, "openai:a")
    assert len(loads) == 1
    load_suite_cached(suite_path, cache, "openai:b")
    assert len(loads) == 2


@pytest.mark.parametrize("changed", ["suite.yaml", "rows.jsonl", "item.schema.json"])
def test_a_change_to_the_suite_or_a_file_it_reads_means_a_fresh_load(
    suite_path: Path, tmp_path: Path, loads: list[Path], changed: str
) -> None:
    cache = tmp_path / "cache"
    load_suite_cached(suite_path, cache)
    target = tmp_path / changed
    if changed == "suite.yaml":
        target.write_text(SUITE.replace("first", "second"))
    elif changed == "rows.jsonl":
        target.write_text(json.dumps({"id": "row-2", "vars": {"text": "y"}}) + "\n")
    else:
        target.write_text(json.dumps({"type": "object", "required": ["label"]}))
    suite = load_suite_cached(suite_path, cache)
    assert len(loads) == 2
    assert suite == harness.suite.loader.load_suite(suite_path)


def test_a_broken_entry_is_ignored_and_replaced(
    suite_path: Path, tmp_path: Path, loads: list[Path]
) -> None:
    cache = tmp_path / "cache"
    load_suite_cached(suite_path, cache)
    (entry,) = (cache / "suites").iterdir()
    entry.write_bytes(b"not a pickle")
    assert load_suite_cached(suite_path, cache).name == "cached"
    assert load_suite_cached(suite_path, cache).name == "cached"
    assert len(loads) == 2  # the broken entry once, then the rewritten one served


RICH_CASES = """\
name: rich
targets: [openai:gpt-4o-mini, groq:llama-3.1-8b-instant]
prompt: {user: "Say {{ text }}"}
cases:
  - id: 1
    vars: {text: hi, nested: {list: [1, 2.5, null, true], empty: {}}}
    description: numbers and nesting
    metadata: {owner: qa, tags: [a, b]}
    threshold: 0.5
    transform: "output.strip()"
    targets: [openai:gpt-4o-mini]
    assert:
      - {type: contains, value: hi}
      - {type: regex, value: "h.", weight: 2}
  - {id: two, vars: {text: "ü \\u2603 quotes \\" and \\\\"}}
"""


def test_cases_are_stored_as_rows_and_come_back_equal(tmp_path: Path, loads: list[Path]) -> None:
    path = tmp_path / "rich.yaml"
    path.write_text(RICH_CASES)
    cache = tmp_path / "cache"
    first = load_suite_cached(path, cache)
    (entry,) = (cache / "suites").iterdir()
    stored = json.loads(entry.read_bytes())["suite"]["f"]["cases"]
    assert stored["@"] == "cases" and len(stored["rows"]) == 2
    second = load_suite_cached(path, cache)
    assert len(loads) == 1
    assert second.cases == first.cases
    assert [type(c.transform) for c in second.cases] == [tuple, tuple]
    assert second.cases[0].targets == ("openai:gpt-4o-mini",)


def test_a_case_row_of_another_layout_means_a_fresh_load(
    suite_path: Path, tmp_path: Path, loads: list[Path]
) -> None:
    cache = tmp_path / "cache"
    first = load_suite_cached(suite_path, cache)
    (entry,) = (cache / "suites").iterdir()
    data = json.loads(entry.read_bytes())
    data["suite"]["f"]["cases"]["rows"][0].append("a field this code does not have")
    entry.write_text(json.dumps(data))
    assert load_suite_cached(suite_path, cache) == first
    assert len(loads) == 2


def test_a_bad_suite_is_reported_every_time_and_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ntargets: [openai:gpt-4o-mini]\nprompt: {user: hi}\ncases: []\n")
    cache = tmp_path / "cache"
    for _ in range(2):
        with pytest.raises(SuiteError, match="no cases"):
            load_suite_cached(path, cache)
    assert not (cache / "suites").exists()


class _OrderedBackend:
    """A backend that only notes when cells were submitted."""

    def __init__(self, in_worker: bool, events: list[str]) -> None:
        self.in_worker = in_worker
        self.events = events

    def submit(self, cells: list[Any]) -> None:
        self.events.append("submit")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("in_worker", "expected"),
    [(True, ["submit", "store"]), (False, ["store", "submit"])],
    ids=["worker: after its calls are sent", "in-process: before this process times calls"],
)
def test_collection_s_store_waits_for_the_first_calls(
    suite_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_worker: bool,
    expected: list[str],
) -> None:
    from harness.config import Settings
    from harness.run.session import RunSession

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # else the cells are skipped, not sent

    cells = load_suite_cached(suite_path, None).cells()
    session = RunSession(Settings(rootdir=tmp_path, out=tmp_path / "run"), write=False)
    events: list[str] = []
    session.backend = _OrderedBackend(in_worker, events)  # type: ignore[assignment]
    session.when_calls_start(lambda: events.append("store"))
    assert events == []  # nothing at collection
    session.prefetch((c, c.name) for c in cells)
    session.prefetch((c, c.name) for c in cells)  # a later suite's first cell
    session.close()
    assert events == [*expected, "submit"]  # once, whatever runs later


def test_a_run_that_calls_nothing_still_stores_its_parsed_suites(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", **{"evals/s": SUITE.replace("dataset: rows.jsonl\n", "")
                                  .replace("structured: native\nschema: item.schema.json\n", "")})
    cache = pytester.path / "cache"
    result = pytester.runpytest_inprocess(
        "evals", "-p", "no:cacheprovider", "--collect-only", f"--llm-cache-dir={cache}"
    )
    assert result.ret == 0
    assert len(list((cache / "suites").iterdir())) == 1


def test_without_a_cache_dir_nothing_is_written(suite_path: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    assert load_suite_cached(suite_path, None).name == "cached"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cache_off_keeps_no_parsed_suites(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/s": SUITE.replace("dataset: rows.jsonl\n", "")
                                  .replace("structured: native\nschema: item.schema.json\n", "")})
    cache = pytester.path / "cache"
    result = pytester.runpytest_inprocess(
        "evals", "-p", "no:cacheprovider", "--llm-cache=off", f"--llm-cache-dir={cache}",
        "--llm-report=false",
    )
    result.assert_outcomes(skipped=1)  # no key: skipped, but collected through the loader
    assert not (cache / "suites").exists()


def test_an_entry_made_by_other_loader_code_is_not_used(
    suite_path: Path, tmp_path: Path, loads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    load_suite_cached(suite_path, cache)
    monkeypatch.setattr("harness.suite.parsed_cache._code_version", lambda: "another harness")
    load_suite_cached(suite_path, cache)
    assert len(loads) == 2


def test_a_change_to_a_target_s_tools_file_means_a_fresh_load(
    tmp_path: Path, loads: list[Path]
) -> None:
    """A target mapping's ``tools:`` file is read at load time like the suite's own."""
    tool = {"name": "lookup", "description": "find a word", "input_schema": {"type": "object"}}
    (tmp_path / "tools.json").write_text(json.dumps([tool]))
    path = tmp_path / "suite.yaml"
    path.write_text(
        "targets:\n  - {provider: openai, model: gpt-4o-mini, tools: tools.json}\n"
        "prompt: {user: hi}\ncases: [{id: one}]\n"
    )
    cache = tmp_path / "cache"
    assert load_suite_cached(path, cache).targets[0].tools[0].description == "find a word"
    (tmp_path / "tools.json").write_text(json.dumps([{**tool, "description": "define it"}]))
    suite = load_suite_cached(path, cache)
    assert len(loads) == 2
    assert suite.targets[0].tools[0].description == "define it"


def test_a_large_suite_is_rebuilt_from_its_stored_form_after_its_parse(
    suite_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the YAML parse freed is then given back whole; the suite is the same, and its
    # entry is written as for any other (checked once, not twice).
    from harness.suite import parsed_cache

    monkeypatch.setattr(parsed_cache, "COMPACT_CASES", 1)
    trips: list[object] = []
    real_trip = parsed_cache._stored_form
    monkeypatch.setattr(parsed_cache, "_stored_form", lambda s: trips.append(s) or real_trip(s))
    parsed = harness.suite.loader.load_suite(suite_path)
    deferred: list[Callable[[], None]] = []
    rebuilt = load_suite_cached(suite_path, tmp_path / "cache", deferred=deferred)
    assert rebuilt == parsed and rebuilt.cases[0] is not parsed.cases[0]
    deferred[0]()
    assert len(trips) == 1
    assert load_suite_cached(suite_path, tmp_path / "cache") == parsed


def test_a_large_suite_json_cannot_carry_is_used_as_parsed_and_never_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.suite import parsed_cache

    monkeypatch.setattr(parsed_cache, "COMPACT_CASES", 1)
    path = tmp_path / "dated.yaml"
    path.write_text(
        "name: dated\ntargets: [echo:m]\nprompt: {user: 'On {{ day }}'}\n"
        "cases:\n  - {id: a, vars: {day: 2026-11-30}}\n"
    )
    deferred: list[Callable[[], None]] = []
    suite = load_suite_cached(path, tmp_path / "cache", deferred=deferred)
    assert suite == harness.suite.loader.load_suite(path)
    assert type(suite.cases[0].vars["day"]).__name__ == "date"
    deferred[0]()
    assert not (tmp_path / "cache" / "suites").exists()
