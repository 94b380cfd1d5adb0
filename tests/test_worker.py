"""The worker process (harness.run.worker.client): cells evaluated in a child process beside pytest.

It must be the same pipeline, only elsewhere: the same records as an in-process run, a cached
rerun that sends nothing, no call for a deselected cell although the worker saw every cell
at collection, plain-test calls and judges through it, and a worker that dies ends its cells
with an error naming its log instead of hanging the run.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import (
    AuthError,
    BadRequest,
    BudgetExceeded,
    CacheMiss,
    RateLimited,
    TransientError,
    Unsupported,
)
from harness.run.worker.child import CHUNK
from harness.simulator import Simulator

pytest.importorskip("openai")
pytest.importorskip("groq")

SCHEMA = {
    "type": "object",
    "required": ["vendor"],
    "properties": {"vendor": {"type": "string"}},
}
CASES = 6
SUITE = (
    "name: w\ntargets: [openai:gpt-4o-mini, groq:llama-3.1-8b-instant]\n"
    "temperatures: [0.0, 0.7]\nrepeat: 2\nmax_tokens: 50\nstructured: native\n"
    "schema: schema.json\n"
    "prompt:\n  user: 'Invoice {{ n }}'\n"
    "assert:\n  - {type: schema-valid}\n  - {type: contains, value: vendor}\n"
    "cases:\n" + "".join(f"  - {{id: c{i}, vars: {{n: item{i}}}}}\n" for i in range(CASES))
)
CELLS = CASES * 2 * 2 * 2


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator({"seed": 5, "require_key": "sk-sim", "default": {"latency_ms": 5}}) as s:
        for provider in ("openai", "groq"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", s.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        yield s


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", **{"evals/w": SUITE})
    (pytester.path / "evals" / "schema.json").write_text(json.dumps(SCHEMA))
    return pytester


def run(pytester: pytest.Pytester, out: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "evals", f"--llm-out={out}", "-p", "no:cacheprovider", "--llm-report=false", *args
    )


def one_target_suite(pytester: pytest.Pytester, name: str, cases: int) -> None:
    """evals/<name>.yaml: ``cases`` cases on openai:gpt-4o-mini, one line each."""
    rows = "".join(f"  - {{id: k{i:03d}, vars: {{n: item{i}}}}}\n" for i in range(cases))
    pytester.makefile(".yaml", **{f"evals/{name}": (
        f"name: {name}\ntargets: [openai:gpt-4o-mini]\nmax_tokens: 20\n"
        "prompt:\n  user: 'Echo {{ n }}'\ncases:\n" + rows)})


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def meta(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "meta.json").read_text())
    return data


def by_cell(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[tuple[Any, ...]]]:
    # Repeats send identical requests, so which repeat got which sample may differ.
    cells: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for r in rows:
        key = (r["case_id"], r["target"], r["temperature"])
        seen = (r["status"], r["output"], r["schema_valid"], r["input_tokens"], r["cost_usd"])
        cells.setdefault(key, []).append(seen)
    return {k: sorted(v, key=repr) for k, v in cells.items()}


def test_worker_run_gives_the_in_process_records_and_a_cached_rerun_sends_nothing(
    project: pytest.Pytester, sim: Simulator
) -> None:
    worker_out = project.path / "worker"
    result = run(project, worker_out, "--llm-worker=on")
    result.assert_outcomes(passed=CELLS)
    assert meta(worker_out)["worker"] is True
    assert sim.request_count() == CELLS
    with_worker = records(worker_out)
    assert len(with_worker) == CELLS
    assert len({r["nodeid"] for r in with_worker}) == CELLS
    assert all(r["latency_ms"] > 0 and not r["cached"] for r in with_worker)

    sim.reset()
    plain_out = project.path / "plain"
    run(project, plain_out, "--llm-worker=off", "--llm-cache=off").assert_outcomes(passed=CELLS)
    assert meta(plain_out)["worker"] is False
    assert by_cell(records(plain_out)) == by_cell(with_worker)

    sim.reset()
    rerun_out = project.path / "rerun"
    run(project, rerun_out, "--llm-worker=on").assert_outcomes(passed=CELLS)
    assert sim.request_count() == 0
    live = {r["nodeid"]: r for r in with_worker}
    for r in records(rerun_out):
        assert r["cached"] is True and r["cost_usd"] == 0
        assert r["cost_if_live_usd"] == live[r["nodeid"]]["cost_usd"]


def _report_blob(out: Path) -> dict[str, Any]:
    html = (out / "report.html").read_text("utf-8")
    start = html.index(">", html.index('<script type="application/json" id="report-data">')) + 1
    data: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return data


def test_records_held_slim_beside_a_worker_still_give_the_report_and_baseline_every_detail(
    project: pytest.Pytester, sim: Simulator
) -> None:
    # pytest's process holds a worker's records without their prompts and vars (read back
    # from results.jsonl for the report's case details); the folder of the run with the
    # worker already holds another run's lines, which must not be read back as this run's.
    # Under xdist the controller holds the records its workers report slim too.
    seen = {}
    for mode, extra in (("off", ()), ("on", ()), ("xdist", ("--llm-worker=off", "-n", "2"))):
        out = project.path / mode
        if mode == "on":
            run(project, out, "--llm-worker=on", "-k", "c0").assert_outcomes(passed=8)
        baseline = project.path / f"{mode}.json"
        # ... and judged against the first run's baseline: the case-by-case table shows
        # this run's answers (a baseline keeps verdicts only).
        gate = () if mode == "off" else (f"--llm-baseline={project.path / 'off.json'}",)
        run(
            project, out, *(extra or (f"--llm-worker={mode}",)), "--llm-report=true",
            f"--llm-save-baseline={baseline}", *gate,
        ).assert_outcomes(passed=CELLS)
        if gate:
            html = (out / "report.html").read_text("utf-8")
            assert html.count("no output stored") == CELLS  # the baseline's side only
            assert html.count("&#34;vendor&#34;") >= CELLS  # this run's answers
        data = _report_blob(out)
        seen[mode] = (
            data["cases"], data["prompts"], len(data["cells"]),
            json.loads(baseline.read_text())["prompts"],
        )
    assert meta(project.path / "on")["worker"] is True
    cases, prompts, cells, samples = seen["on"]
    assert seen["on"] == seen["off"]
    # xdist runs the cells in another order: the same cases, prompts and samples
    x_cases, x_prompts, x_cells, x_samples = seen["xdist"]
    assert sorted(map(repr, x_cases)) == sorted(map(repr, cases))
    assert sorted(map(repr, x_prompts)) == sorted(map(repr, prompts))
    assert (x_cells, x_samples) == (cells, samples)
    assert cells == CELLS
    assert sorted(c[2]["n"] for c in cases) == [f"item{i}" for i in range(CASES)]
    assert sorted(p[0][1] for p in prompts) == [f"Invoice item{i}" for i in range(CASES)]
    assert [s["messages"] for s in samples] == [[["user", "Invoice item0"]]]


def test_the_library_api_returns_whole_records_of_a_run_with_a_worker(
    tmp_path: Path, sim: Simulator
) -> None:
    from harness.api import run_suites

    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "w.yaml").write_text(SUITE)
    (tmp_path / "evals" / "schema.json").write_text(json.dumps(SCHEMA))
    out = tmp_path / "run"
    results = run_suites(
        [tmp_path / "evals" / "w.yaml"], rootdir=tmp_path, out=str(out), worker="on",
        report=False,
    )
    assert meta(out)["worker"] is True
    assert len(results) == CELLS
    assert sorted({r.prompt[0]["content"] for r in results}) == [
        f"Invoice item{i}" for i in range(CASES)
    ]
    assert all(r.vars == {"n": r.prompt[0]["content"].split()[-1]} for r in results)


def test_both_processes_append_whole_lines_to_one_results_file(
    project: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(project, project.path / "first", "--llm-worker=on").assert_outcomes(passed=CELLS)
    # Replayed openai cells are scored and written by the worker; groq's, skipped for the
    # missing key, by pytest's process: both write results.jsonl at once.
    monkeypatch.delenv("GROQ_API_KEY")
    out = project.path / "mixed"
    run(project, out, "--llm-worker=on").assert_outcomes(passed=CELLS // 2, skipped=CELLS // 2)
    rows = records(out)  # json.loads of every line: none torn or interleaved
    assert len(rows) == CELLS and len({r["nodeid"] for r in rows}) == CELLS
    assert {r["status"] for r in rows if r["provider"] == "groq"} == {"skipped"}
    assert all(r["cached"] for r in rows if r["provider"] == "openai")


def test_deselected_cells_cost_no_call_although_the_worker_saw_them(
    project: pytest.Pytester, sim: Simulator
) -> None:
    out = project.path / "run"
    result = run(project, out, "--llm-worker=on", "-k", "c1 and openai")
    result.assert_outcomes(passed=4)
    assert sim.request_count() == 4
    assert {r["case_id"] for r in records(out)} == {"c1"}


def test_auto_uses_a_worker_for_large_runs_only(project: pytest.Pytester, sim: Simulator) -> None:
    small = project.path / "small"
    run(project, small).assert_outcomes(passed=CELLS)
    assert meta(small)["worker"] is False
    big = project.path / "big"
    # 6 cases x 2 targets x 2 temperatures x repeat 10 = 240 cells: over the 200 threshold.
    run(project, big, "--llm-repeat=10", "--llm-cache=off").assert_outcomes(passed=240)
    assert meta(big)["worker"] is True
    xdist = project.path / "xdist"
    run(project, xdist, "--llm-worker=auto", "--llm-repeat=10", "-n", "2").assert_outcomes(
        passed=240
    )
    assert meta(xdist)["worker"] is False  # each xdist worker is a process of its own


def test_beside_a_worker_pytests_process_never_loads_the_http_stack(
    project: pytest.Pytester, sim: Simulator
) -> None:
    # The worker makes every call: aiohttp (~25 MB) belongs in its process only, and a
    # worker that only replays needs it no more than pytest's process does.
    project.makeconftest(
        "import sys\n"
        "def pytest_sessionfinish(session):\n"
        "    print('aiohttp loaded:', 'aiohttp' in sys.modules)\n"
    )
    for name in ("live", "replayed"):
        result = run(project, project.path / name, "--llm-worker=on", "-s")
        result.assert_outcomes(passed=CELLS)
        result.stdout.fnmatch_lines(["*aiohttp loaded: False*"])
    assert sim.request_count() == CELLS  # the second run replayed every answer


def test_plain_test_calls_and_judges_go_through_the_worker(
    pytester: pytest.Pytester, sim: Simulator
) -> None:
    pytester.makefile(".yaml", **{"evals/w": SUITE.replace("schema: schema.json\n", "")
                                  .replace("structured: native\n", "")
                                  .replace("  - {type: schema-valid}\n", "")
                                  .replace("value: vendor", "value: Invoice")})
    pytester.makepyfile(
        test_plain="""
        import pytest

        @pytest.mark.llm(targets=["openai:gpt-4o-mini"], temperatures=[0.0])
        def test_echo(llm):
            result = llm.complete("Say the word apple")
            assert "apple" in result.text
        """
    )
    out = pytester.path / "run"
    result = pytester.runpytest_subprocess(
        "evals", "test_plain.py", f"--llm-out={out}", "-p", "no:cacheprovider",
        "--llm-report=false", "--llm-worker=on",
    )
    result.assert_outcomes(passed=CELLS + 1)
    assert sim.request_count() == CELLS + 1
    assert meta(out)["worker"] is True
    assert any(r["suite"] == "pytest" for r in records(out))


def test_a_worker_that_dies_ends_its_cells_with_an_error_naming_its_log(
    project: pytest.Pytester, sim: Simulator
) -> None:
    # A user's python scorer that kills the interpreter it runs in. The worker scores
    # answers from the cache (pytest's process scores live ones), so record them first.
    run(project, project.path / "first", "--llm-worker=on").assert_outcomes(passed=CELLS)
    (project.path / "evals" / "fatal.py").write_text(
        "import os\n\ndef check(output, ctx):\n    os._exit(3)\n"
    )
    suite = (project.path / "evals" / "w.yaml").read_text()
    (project.path / "evals" / "w.yaml").write_text(
        suite.replace("  - {type: schema-valid}\n", "  - {type: python, value: 'fatal:check'}\n")
    )
    out = project.path / "run"
    result = run(project, out, "--llm-worker=on", "-x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*worker process ended unexpectedly*exit status 3*worker.log*"])
    assert records(out)[0]["status"] == "error"


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("slow down", provider="openai", retry_after_s=2.5),
        TransientError("503", provider="groq", status=503, retry_after_s=1.0),
        AuthError("bad key", provider="mistral", status=401),
        BadRequest("unknown model x", provider="openai", status=404),
        Unsupported("temperature", provider="anthropic"),
        CacheMiss("not in the cache"),
        BudgetExceeded("budget reached"),
    ],
)
def test_call_errors_cross_the_process_boundary_whole(error: Exception) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert vars(back) == vars(error)


def test_without_an_interpreter_to_start_the_cells_run_in_pytests_process(
    project: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.executable", str(project.path / "no-such-python"))
    out = project.path / "run"
    result = project.runpytest_inprocess(
        "evals", f"--llm-out={out}", "-p", "no:cacheprovider", "--llm-report=false",
        "--llm-worker=on",
    )
    result.assert_outcomes(passed=CELLS)
    assert meta(out)["worker"] is False
    assert sim.request_count() == CELLS


def test_cells_run_in_another_order_than_collected(
    pytester: pytest.Pytester, sim: Simulator
) -> None:
    # 150 cells: the worker looks them up in chunks, and pytest asks for the last first.
    one_target_suite(pytester, "order", 150)
    pytester.makeconftest(
        "def pytest_collection_modifyitems(items):\n    items.reverse()\n"
    )
    out = pytester.path / "run"
    for attempt in ("live", "replayed"):
        sim.reset()
        result = pytester.runpytest_subprocess(
            "evals", f"--llm-out={out}-{attempt}", "-p", "no:cacheprovider",
            "--llm-report=false", "--llm-worker=on",
        )
        result.assert_outcomes(passed=150)
        assert sim.request_count() == (150 if attempt == "live" else 0)
        rows = records(Path(f"{out}-{attempt}"))
        assert sorted(r["case_id"] for r in rows) == [f"k{i:03d}" for i in range(150)]


def test_a_cell_run_twice_is_answered_twice(project: pytest.Pytester, sim: Simulator) -> None:
    # As a rerun plugin does: the same item's runtest again, after its first answer.
    project.makeconftest(
        "import harness.pytest_plugin as hp\n"
        "_once = hp.CellItem.runtest\n"
        "def _twice(self):\n    _once(self)\n    _once(self)\n"
        "hp.CellItem.runtest = _twice\n"
    )
    out = project.path / "run"
    result = project.runpytest_subprocess(
        "evals", f"--llm-out={out}", "-p", "no:cacheprovider", "--llm-report=false",
        "--llm-worker=on", timeout=120,
    )
    result.assert_outcomes(passed=CELLS)
    assert sim.request_count() == CELLS  # the second answer came from the cache


def test_every_cell_pytest_reported_is_on_disk_when_pytest_is_killed(
    project: pytest.Pytester, sim: Simulator
) -> None:
    out = project.path / "run"
    run(project, out, "--llm-worker=on").assert_outcomes(passed=CELLS)
    # A cached run killed (no cleanup, no flush) right after pytest reported 30 cells.
    project.makeconftest(
        "import os, pytest\n"
        "seen = []\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_runtest_logreport(report):\n"
        "    if report.when == 'call' and report.passed:\n"
        "        seen.append(report.nodeid)\n"
        "        with open('reported.txt', 'a') as fh:\n"
        "            fh.write(report.nodeid + '\\n')\n"
        "        if len(seen) == 30:\n"
        "            os._exit(9)\n"
    )
    killed = project.path / "killed"
    result = run(project, killed, "--llm-worker=on")
    assert result.ret == 9
    reported = (project.path / "reported.txt").read_text().splitlines()
    assert len(reported) == 30
    on_disk = [r["nodeid"] for r in records(killed)]
    assert set(reported) <= set(on_disk)
    assert all(r["cached"] for r in records(killed))


def test_untaken_answers_are_bounded_and_never_block_a_cell_waited_for(
    pytester: pytest.Pytester, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Room for 3 untaken answers. 150 cells asked for last first, half of them replayed
    # (answered at once) and half live: the reader holds back, yet every cell pytest waits
    # for is read, and a plain test's call through the worker is not stuck behind them.
    one_target_suite(pytester, "order", 150)
    pytester.makepyfile(test_plain=(
        "import pytest\n\n"
        "@pytest.mark.llm(targets=['openai:gpt-4o-mini'], temperatures=[0.0])\n"
        "def test_echo(llm):\n    assert llm.complete('Echo plain').text\n"))
    seen = pytester.path / "untaken.txt"
    pytester.makeconftest(
        "import os\n"
        "import harness.run.worker.client as wc\n"
        "wc.MAX_UNTAKEN = 3\n"
        "_hold = wc.WorkerClient._hold_back\n"
        "def _counting(self):\n"
        "    _hold(self)\n"
        f"    with open({str(seen)!r}, 'a') as f:\n"
        "        f.write(f'{len(self._cell_answers)}\\n')\n"
        "wc.WorkerClient._hold_back = _counting\n"
        "def pytest_collection_modifyitems(items):\n"
        "    if os.environ.get('REVERSE'):\n        items.reverse()\n"
    )
    common = ("-p", "no:cacheprovider", "--llm-report=false", "--llm-worker=on")
    half = pytester.runpytest_subprocess("evals", "--llm-shard=1/2", *common)
    half.assert_outcomes(passed=sim.request_count())
    sim.reset()
    monkeypatch.setenv("REVERSE", "1")
    out = pytester.path / "mixed"
    result = pytester.runpytest_subprocess("evals", "test_plain.py", f"--llm-out={out}", *common,
                                           timeout=120)
    result.assert_outcomes(passed=151)
    rows = records(out)
    assert 0 < sum(r["cached"] for r in rows) == 150 - (sim.request_count() - 1) < 150
    assert sorted(r["case_id"] for r in rows if r["suite"] == "order") == [
        f"k{i:03d}" for i in range(150)
    ]

    # Every answer replayed, taken in the order sent: the limit holds. A reply batch is read
    # whole, so it may overshoot by one batch (the worker sends at most CHUNK cells a batch).
    monkeypatch.delenv("REVERSE")
    seen.unlink()
    out = pytester.path / "replayed"
    result = pytester.runpytest_subprocess("evals", f"--llm-out={out}", *common, timeout=120)
    result.assert_outcomes(passed=150)
    assert all(r["cached"] for r in records(out))
    untaken = [int(n) for n in seen.read_text().split()]
    assert len(untaken) > 3 and max(untaken) <= 3 + CHUNK


_WATCH_WORKERS = (
    "import harness.run.worker.client as c\n"
    "init, discard = c.WorkerClient.__init__, c.WorkerClient.discard\n"
    "def watched_init(self, settings, run_id, log_path, live=()):\n"
    "    init(self, settings, run_id, log_path, live)\n"
    "    print('worker started', self._proc.pid, sorted(live))\n"
    "def watched_discard(self):\n"
    "    print('worker discarded')\n"
    "    discard(self)\n"
    "c.WorkerClient.__init__, c.WorkerClient.discard = watched_init, watched_discard\n"
    "import harness.suite.loader as loader\n"
    "load = loader.load_suite\n"
    "def watched_load(*args, **kwargs):\n"
    "    print('parsing the suite')\n"
    "    return load(*args, **kwargs)\n"
    "loader.load_suite = watched_load\n"
)


def _started(result: pytest.RunResult) -> list[tuple[int, str]]:
    return [
        (int(line.split()[2]), line.split(" ", 3)[3])
        for line in result.outlines
        if line.startswith("worker started")
    ]


def test_a_long_suite_file_starts_the_worker_before_it_is_parsed(
    pytester: pytest.Pytester, sim: Simulator
) -> None:
    # 240 cases of one target: the file's 240+ lines start the worker, with openai's SDK to
    # load, before the loader has parsed a case; the cells then go to that same worker.
    one_target_suite(pytester, "long", 240)
    pytester.makeconftest(_WATCH_WORKERS)
    out = pytester.path / "run"
    result = run(pytester, out, "-s", "--llm-cache=off")
    result.assert_outcomes(passed=240)
    assert [live for _, live in _started(result)] == ["['openai']"]
    result.stdout.fnmatch_lines(["worker started*", "parsing the suite"])
    assert "worker discarded" not in result.stdout.str()
    assert meta(out)["worker"] is True
    assert sim.request_count() == 240


def test_a_worker_started_early_for_a_run_that_stays_small_is_ended_unused(
    project: pytest.Pytester, sim: Simulator
) -> None:
    # The same 48 cells as always, in a file made long by comments: the worker that its
    # length started is ended at the end of collection and the cells run in pytest's process.
    suite = project.path / "evals" / "w.yaml"
    suite.write_text(suite.read_text() + "# a long comment\n" * 300)
    project.makeconftest(_WATCH_WORKERS)
    out = project.path / "run"
    result = run(project, out, "-s")
    result.assert_outcomes(passed=CELLS)
    ((pid, live),) = _started(result)
    assert live == "['groq', 'openai']"
    result.stdout.fnmatch_lines(["*worker discarded*"])
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped, not left behind
    assert meta(out)["worker"] is False
    assert not (out / "worker.log").exists()
    assert sim.request_count() == CELLS


def test_the_guess_of_a_suite_s_providers_reads_target_spellings_only() -> None:
    from harness.run.session import _providers_named_in

    assert _providers_named_in("targets: [openai:gpt-4o-mini, 'groq:llama-3.1-8b']") == {
        "openai", "groq"
    }
    assert _providers_named_in(
        "targets:\n  - {provider: anthropic, model: claude}\n  - openai-compatible:qwen\n"
    ) == {"anthropic", "openai-compatible"}
    # Words that only look like a provider: a longer name, a key with a space after it.
    assert _providers_named_in("vars: {text: 'myopenai:x', note: 'mistral: the wind'}") == set()


_READ_AHEAD_SCRIPT = """
import io, queue, sys
from pathlib import Path

import harness.calls.cache as cache_module
import harness.run.worker.messages as msg
from harness.config import Settings
from harness.run.backends import InProcess
from harness.run.session import RunSession
from harness.run.worker.child import Server
from harness.suite.loader import load_suite

cache_module.PRELOAD_LIMIT = 3
tmp_path = Path(sys.argv[1])
path = tmp_path / "s.yaml"
path.write_text(
    "name: s\\ntargets: [echo:m]\\nprompt: {user: 'Echo {{ x }}'}\\nmax_tokens: 5\\ncases:\\n"
    + "".join(f"  - {{id: c{i}, vars: {{x: '{i}'}}}}\\n" for i in range(10))
)
settings = Settings(rootdir=tmp_path, cache_dir=tmp_path / "cache", out=tmp_path / "run",
                    worker="off")
first = RunSession(settings)  # a first run fills the cache
cells = load_suite(path).cells()
first.prefetch((c, c.name) for c in cells)
assert all(first.evaluate(c, c.name).result.status == "passed" for c in cells)
first.close()

cells = load_suite(path).cells()
local = InProcess(settings, "rerun")
events = queue.SimpleQueue()
server = Server(local, events, io.BytesIO(), live=())
try:
    server.on_add_cells(msg.AddCells(tuple(enumerate(cells, start=1))))
    while not events.empty():  # the lookups, chunk by chunk
        event = events.get()
        server.handlers[type(event)](event)
    held = len(server.engine._requests)
    assert held == 3, held  # only the cells whose answer is held
    server.on_go(msg.Go(tuple((job, c.name) for job, c in enumerate(cells, start=1))))
    while server.cells:
        event = events.get(timeout=10)
        server.handlers[type(event)](event)
    answers = [a for a in server.answers if isinstance(a, msg.CellScored)]
    assert len(answers) == 10 and all(a.result.cached for a in answers), answers
    assert server.engine._requests == {}, server.engine._requests
finally:
    local.close()
print("ok")
"""


def test_past_the_read_ahead_the_worker_holds_no_rendered_request(tmp_path: Path) -> None:
    # The worker's Server, a runner and its lanes, driven directly; in a process of their
    # own, as the worker is (run inside pytest's process they left its exit noisy).
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _READ_AHEAD_SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


class _HeldRunner:
    """A runner whose live calls end when the test says; once ``from_cache`` is set, every
    call it is given answers at once, as a cache hit does."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.from_cache = False
        self.given: list[tuple[str, Any]] = []  # (the request's prompt, its future)
        self.gave_way = 0

    def give_way(self) -> None:
        self.gave_way += 1

    def worth_queueing(self, provider: str) -> int:
        return self.window

    def prepare(self, targets: Any) -> None:
        pass

    def submit_many(self, calls: Any) -> list[Any]:
        import concurrent.futures

        from harness.calls.outcome import CallOutcome
        from harness.types import Completion

        futures = []
        for _, request in calls:
            fut: concurrent.futures.Future[CallOutcome] = concurrent.futures.Future()
            if self.from_cache:
                fut.set_result(CallOutcome(Completion("cached"), cached=True, cost_usd=0.0))
            self.given.append((request.messages[-1].content, fut))
            futures.append(fut)
        return futures


@pytest.fixture
def held_server(tmp_path: Path) -> Iterator[tuple[Any, _HeldRunner, tuple[tuple[int, Any], ...]]]:
    """The worker's Server over a _HeldRunner (window 3), its 10 cells added and looked up."""
    import io
    import queue
    from types import SimpleNamespace

    import harness.run.worker.messages as msg
    from harness.config import Settings
    from harness.run.backends import InProcess
    from harness.run.worker.child import Server
    from harness.suite.loader import load_suite

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntargets: [echo:m]\nprompt: {user: 'Echo {{ x }}'}\nmax_tokens: 5\ncases:\n"
        + "".join(f"  - {{id: c{i}, vars: {{x: '{i}'}}}}\n" for i in range(10))
    )
    settings = Settings(rootdir=tmp_path, cache_dir=tmp_path / "cache", out=tmp_path / "run")
    real = InProcess(settings, "paced")
    runner = _HeldRunner(window=3)
    local = SimpleNamespace(engine=real.engine, cache=real.cache, runner=runner, built_runner=None)
    events: queue.SimpleQueue[Any] = queue.SimpleQueue()
    server = Server(local, events, io.BytesIO(), live=())
    try:
        jobs = tuple(enumerate(load_suite(path).cells(), start=1))
        server.on_add_cells(msg.AddCells(jobs))
        _settle(server)
        yield server, runner, jobs
    finally:
        real.close()


def _settle(server: Any) -> None:
    """Handle every event the Server has queued (and those they queue), as serve() would."""
    while not server.events.empty():
        event = server.events.get()
        server.handlers[type(event)](event)


def test_the_worker_hands_a_provider_only_a_window_of_calls_ahead(held_server: Any) -> None:
    # A Go for every cell used to render and submit them all at once, holding the GIL while
    # the first calls were timed (~380 ms for 100 ms of provider time at 5000 cells).
    import harness.run.worker.messages as msg
    from harness.calls.outcome import CallOutcome
    from harness.types import Completion

    server, runner, jobs = held_server
    server.on_go(msg.Go(tuple((job, c.name) for job, c in jobs)))
    _settle(server)
    assert [prompt for prompt, _ in runner.given] == ["Echo 0", "Echo 1", "Echo 2"]

    live = CallOutcome(Completion("Echo 0", latency_ms=100.0))
    runner.given[0][1].set_result(live)  # a slot comes free: one more call goes out
    _settle(server)
    assert [prompt for prompt, _ in runner.given][3:] == ["Echo 3"]
    assert [type(a) for a in server.answers] == [msg.CellLive]

    # Answers from the cache hold no slot: with two calls still in flight, every
    # other cell goes out as soon as a slot frees.
    runner.from_cache = True
    runner.given[1][1].set_result(live)
    _settle(server)
    assert [prompt for prompt, _ in runner.given] == [f"Echo {i}" for i in range(10)]
    assert sum(isinstance(a, msg.CellScored) for a in server.answers) == 6
    assert not any(server.waiting.values())
    assert server.in_flight["echo"] == 2


def test_the_worker_gives_way_to_calls_in_flight_before_its_own_work(held_server: Any) -> None:
    # Its bursts (rendering, pickling answers) took the GIL while answers waited on the lanes
    # to be read, and that wait was timed as the provider's latency.
    import harness.run.worker.messages as msg
    from harness.calls.outcome import CallOutcome
    from harness.types import Completion

    server, runner, jobs = held_server
    server.events.put(msg.Go(tuple((job, c.name) for job, c in jobs)))
    server.events.put(msg.Close())
    server.serve()
    assert runner.gave_way == 0  # nothing was in flight yet
    _settle(server)  # the release queued behind the Close
    assert len(runner.given) == 3

    server.closed = False
    runner.given[0][1].set_result(CallOutcome(Completion("Echo 0", latency_ms=100.0)))
    server.events.put(msg.Close())
    server.serve()
    assert runner.gave_way == 1  # two calls still in flight when the answer came


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize(("user_sets", "expected"), [(None, "malloc"), ("pymalloc", "pymalloc")])
def test_the_worker_runs_on_the_c_allocator_unless_the_user_chose_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_sets: str | None, expected: str
) -> None:
    # Under Python's allocator the cells the worker freed stayed resident (see WORKER_ENV).
    from harness.config import Settings
    from harness.run.worker.client import WorkerClient

    if user_sets is None:
        monkeypatch.delenv("PYTHONMALLOC", raising=False)
    else:
        monkeypatch.setenv("PYTHONMALLOC", user_sets)
    settings = Settings(rootdir=tmp_path, cache_dir=tmp_path / "cache", out=tmp_path / "run")
    client = WorkerClient(settings, "alloc", tmp_path / "worker.log")
    try:
        environ = Path(f"/proc/{client._proc.pid}/environ").read_bytes().split(b"\0")
        assert f"PYTHONMALLOC={expected}".encode() in environ
    finally:
        client.close()


def test_the_worker_gives_memory_back_as_cells_end(
    held_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.run.worker.child as child
    import harness.run.worker.messages as msg

    trims: list[int] = []
    monkeypatch.setattr(child, "GIVE_BACK_EVERY", 4)
    monkeypatch.setattr(child, "give_back_free_memory", lambda: trims.append(server.ended))
    server, runner, jobs = held_server
    runner.from_cache = True
    server.on_go(msg.Go(tuple((job, c.name) for job, c in jobs)))
    _settle(server)
    assert server.ended == 10
    assert trims == [4, 8]
