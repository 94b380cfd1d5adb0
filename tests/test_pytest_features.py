"""pytest features on suite cells and plain tests: the `llm` marker and fixture, `-m` per
provider, `--junitxml`, `--lf`, and the progress line, all through the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.simulator import Simulator

pytest.importorskip("openai")
pytest.importorskip("groq")

SUITE = """\
name: capitals
targets: [openai:gpt-4o-mini, groq:llama-3.1-8b-instant]
max_tokens: 20
prompt:
  user: "Capital of {{ country }}?"
assert:
  - {type: icontains, value: "{{ capital }}"}
cases:
  - {id: fr, vars: {country: France, capital: Paris}}
  - {id: jp, vars: {country: Japan, capital: Tokyo}}
  - {id: pe, vars: {country: Peru, capital: Lima}}
"""

PLAIN_TEST = """\
import pytest

@pytest.mark.llm(targets=["openai:gpt-4o-mini", "groq:llama-3.1-8b-instant"], temperatures=[0.0, 0.5])
def test_capital(llm):
    response = llm.complete("Capital of France?", system="Be brief.", max_tokens=20)
    assert "Paris" in response.text
    assert response.completion.usage.output_tokens > 0
"""

# Peru's capital is answered wrongly, so one cell per target fails.
SIM = {
    "default": {
        "latency_ms": 2,
        "canned": {"France": "Paris.", "Japan": "Tokyo.", "Peru": "Cusco."},
    }
}


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator(SIM) as simulator:
        for provider in ("openai", "groq"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", simulator.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        yield simulator


def records(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_llm_marker_and_fixture_give_cached_recorded_calls(
    pytester: pytest.Pytester, sim: Simulator
) -> None:
    pytester.makepyfile(test_plain=PLAIN_TEST)
    first = pytester.runpytest_subprocess("--llm-out=run1", "--llm-report=false", "-v")
    first.assert_outcomes(passed=4)
    first.stdout.fnmatch_lines(["*test_capital?openai:gpt-4o-mini-t0-r0? PASSED*"])
    assert sim.request_count() == 4
    rows = records(pytester.path / "run1")
    assert len(rows) == 4 and {r["suite"] for r in rows} == {"pytest"}
    assert {(r["target"], r["temperature"]) for r in rows} == {
        (t, temp)
        for t in ("openai:gpt-4o-mini", "groq:llama-3.1-8b-instant")
        for temp in (0.0, 0.5)
    }
    again = pytester.runpytest_subprocess("--llm-out=run2", "--llm-report=false")
    again.assert_outcomes(passed=4)
    assert sim.request_count() == 4  # every call replayed from the cache
    assert all(r["cached"] for r in records(pytester.path / "run2"))


def test_llm_fixture_without_a_key_replays_in_replay_mode_and_skips_otherwise(
    pytester: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_plain=PLAIN_TEST)
    pytester.runpytest_subprocess("--llm-out=run1", "--llm-report=false").assert_outcomes(
        passed=4
    )
    for provider in ("OPENAI", "GROQ"):
        monkeypatch.delenv(f"{provider}_API_KEY")
    # Replay needs no key for what the cache holds: the calls are answered, not skipped.
    replay = pytester.runpytest_subprocess(
        "--llm-out=run2", "--llm-report=false", "--llm-cache=replay"
    )
    replay.assert_outcomes(passed=4)
    assert sim.request_count() == 4
    assert all(r["cached"] for r in records(pytester.path / "run2"))
    # Any other mode would send calls: each test is skipped, naming the variable to set.
    use = pytester.runpytest_subprocess("--llm-out=run3", "--llm-report=false", "-rs")
    use.assert_outcomes(skipped=4)
    use.stdout.fnmatch_lines(["*openai:gpt-4o-mini: OPENAI_API_KEY is not set*"])
    assert sim.request_count() == 4


def test_marker_without_targets_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n\n@pytest.mark.llm()\ndef test_x(llm):\n    pass\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*@pytest.mark.llm needs targets=*"])
    assert result.ret != 0


def test_provider_marker_and_junitxml(pytester: pytest.Pytester, sim: Simulator) -> None:
    pytester.makefile(".yaml", **{"evals/capitals": SUITE})
    result = pytester.runpytest_subprocess(
        "evals", "-m", "groq", "--junitxml=junit.xml", "--llm-report=false", "--llm-out=run"
    )
    result.assert_outcomes(passed=2, failed=1, deselected=3)
    assert sim.request_count(route="openai") == 0 and sim.request_count(route="groq") == 3
    xml = (pytester.path / "junit.xml").read_text()
    assert xml.count("<testcase ") == 3
    assert 'name="pe[groq:llama-3.1-8b-instant-tdefault-r0]"' in xml
    assert "does not contain" in xml  # the failing cell's reason reaches the report


def test_last_failed_reruns_only_the_failing_cells(
    pytester: pytest.Pytester, sim: Simulator
) -> None:
    pytester.makefile(".yaml", **{"evals/capitals": SUITE})
    first = pytester.runpytest_subprocess("evals", "--llm-report=false", "--llm-out=run1")
    first.assert_outcomes(passed=4, failed=2)
    rerun = pytester.runpytest_subprocess("evals", "--lf", "--llm-report=false", "--llm-out=run2")
    rerun.assert_outcomes(failed=2)
    rerun.stdout.fnmatch_lines(["*rerun previous 2 failures*"])
    assert {r["case_id"] for r in records(pytester.path / "run2")} == {"pe"}


def test_progress_line_while_calls_are_in_flight(
    pytester: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.pytest_plugin import run_hooks

    monkeypatch.setattr(run_hooks, "PROGRESS_INTERVAL_S", 0.0)
    sim.configure({"default": {"latency_ms": 200, "canned_default": "Paris"}})
    pytester.makefile(".yaml", **{"evals/capitals": SUITE})
    result = pytester.runpytest(
        "evals", "--llm-report=false", "--llm-out=run", "--llm-concurrency=1"
    )
    result.stdout.fnmatch_lines(["*[[]llm[]] llm calls */6 done, 0 from cache, * live, *$* spent*"])


def test_the_collector_freeze_is_undone_at_session_end(
    pytester: pytest.Pytester, sim: Simulator
) -> None:
    import gc

    pytester.makefile(".yaml", **{"evals/capitals": SUITE})
    pytester.makeconftest(
        "import gc\n\ndef pytest_runtest_call(item):\n    assert gc.get_freeze_count() > 0\n"
    )
    before = gc.get_freeze_count()
    result = pytester.runpytest("evals", "--llm-report=false", "--llm-out=run")
    result.assert_outcomes(passed=4, failed=2)
    assert gc.get_freeze_count() == before


def test_a_finalizer_error_is_still_reported_after_the_end_of_run_freeze(
    pytester: pytest.Pytester,
) -> None:
    # The last run in a process freezes what survives it, so that pytest's closing
    # collections skip the run's objects: garbage still there at that moment (here made by
    # a hook with the collector off) must be collected first, or a finalizer that raises
    # would go unreported.
    pytester.makefile(".yaml", **{"evals/s": (
        "name: s\ntargets: [echo:m]\nprompt: {user: 'Echo {{ x }}'}\nmax_tokens: 5\n"
        "cases:\n  - {id: a, vars: {x: '1'}}\n"
    )})
    pytester.makeconftest(
        "import gc\n\n"
        "class Bad:\n"
        "    def __del__(self):\n"
        "        raise RuntimeError('finalizer raised at the end')\n\n"
        "def pytest_terminal_summary():\n"
        "    gc.disable()  # the garbage is still there when the run ends\n"
        "    bad = Bad()\n"
        "    bad.itself = bad\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-report=false")
    result.assert_outcomes(passed=1)
    assert "finalizer raised at the end" in result.stdout.str() + result.stderr.str()


def test_every_provider_has_its_marker(pytester: pytest.Pytester) -> None:
    from harness.providers import PROVIDERS

    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [f"@pytest.mark.{info.marker}: cells that call the {info.marker} provider"
         for info in PROVIDERS.values()]
    )
    assert {info.marker for info in PROVIDERS.values()} >= {"openai_compatible", "local"}


def test_the_terminal_keeps_no_passed_setup_or_teardown_report_of_a_cell(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest's terminal keeps every report it logs until the session ends, and never reads
    # a passed setup or teardown again: the run takes a cell's back (two of its three
    # reports), and what the terminal shows stays the same. A plain test's are left alone.
    # The call report's keywords are read from its item, not copied; a report serialized
    # (pytest-reportlog's JSON lines) still gives them, and its records, as plain data.
    pytest.importorskip("xdist")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pytester.makefile(".yaml", **{"evals/s": (
        "name: s\ntargets: [echo:m, openai:gpt-4o-mini]\nprompt: {user: 'Echo {{ x }}'}\n"
        "max_tokens: 5\nassert:\n  - {type: contains, value: '1'}\n"
        "cases:\n  - {id: a, vars: {x: '1'}}\n  - {id: b, vars: {x: '2'}}\n"
    )})
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.makeconftest(
        "import json\n\n"
        "def pytest_runtest_logreport(report):\n"
        "    if report.when == 'call' and 'a[' in report.nodeid:\n"
        "        with open('keywords.txt', 'a') as f:\n"
        "            f.write(repr(sorted(report.keywords.items())) + '\\n')\n\n"
        "def pytest_report_teststatus(report, config):\n"
        "    # (not on an xdist controller: its reports carry their worker object)\n"
        "    if report.when == 'call' and 'a[' in report.nodeid and not hasattr(report, 'node'):\n"
        "        data = config.hook.pytest_report_to_serializable(config=config, report=report)\n"
        "        with open('keywords.txt', 'a') as f:\n"
        "            f.write(repr(sorted(json.loads(json.dumps(data))['keywords'])) + '\\n')\n\n"
        "def pytest_terminal_summary(terminalreporter):\n"
        "    kept = terminalreporter.stats.get('', [])\n"
        "    print('KEPT', sorted(r.nodeid.split('::')[-1] + ':' + r.when for r in kept))\n"
        "    print('CALLS', sorted(r.nodeid.split('::')[-1] for r in\n"
        "        terminalreporter.stats.get('passed', []) + terminalreporter.stats.get('failed', [])))\n"
    )
    cell = "a[echo:m-tdefault-r0]"
    names = sorted([cell, "echo", "s.yaml", "evals", pytester.path.name, ""])
    for extra in ((), ("-n", "2")):
        result = pytester.runpytest_subprocess(
            "evals", "test_plain.py", "-rA", "--llm-report=false", "--llm-out=run", *extra
        )
        result.assert_outcomes(passed=2, failed=1, skipped=2)
        lines = result.stdout.lines
        assert "KEPT ['test_plain:setup', 'test_plain:teardown']" in lines
        assert "CALLS ['a[echo:m-tdefault-r0]', 'b[echo:m-tdefault-r0]', 'test_plain']" in lines
        result.stdout.fnmatch_lines([
            "*PASSED evals/s.yaml::a?echo:m-tdefault-r0?*",
            "*SKIPPED*OPENAI_API_KEY*",
            "*FAILED evals/s.yaml::b?echo:m-tdefault-r0?*",
        ])
        # The call report's keywords read as pytest's dict of them, and leave as one.
        lines = (pytester.path / "keywords.txt").read_text().splitlines()
        assert repr([(name, 1) for name in names]) in lines
        assert repr(names) in lines  # (under xdist: as the worker sends it)
        (pytester.path / "keywords.txt").unlink()


def test_k_matches_cells_and_names_a_plugin_adds_to_one(pytester: pytest.Pytester) -> None:
    # A cell makes its set of extra -k names only when asked for it: -k still matches its
    # name and its provider's mark, and a name a plugin adds selects it.
    pytester.makefile(".yaml", **{"evals/s": (
        "name: s\ntargets: [echo:m]\nprompt: {user: 'Echo {{ x }}'}\nmax_tokens: 5\n"
        "cases:\n  - {id: first, vars: {x: '1'}}\n  - {id: second, vars: {x: '2'}}\n"
    )})
    pytester.makeconftest(
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        if item.name.startswith('second['):\n"
        "            item.extra_keyword_matches.add('special')\n"
    )
    cases = (("special", ["second"]), ("first and echo", ["first"]), ("not special", ["first"]))
    for expr, expected in cases:
        result = pytester.runpytest(
            "evals", "-k", expr, "--llm-report=false", "--llm-out=run", "-q", "--co"
        )
        ids = [line.split("::")[1].split("[")[0] for line in result.stdout.lines
               if line.startswith("evals/s.yaml::")]
        assert ids == expected, (expr, result.stdout.lines)
