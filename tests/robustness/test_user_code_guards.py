"""User code and templates at run time: a catastrophic regex, sys.exit in a python scorer, a
sandbox violation or a prompt bomb each end as that cell's record with a one-line reason;
the run goes on and no traceback is printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.simulator import Simulator

pytest.importorskip("openai")

SUITE = """\
name: guards
targets: [openai:gpt-4o-mini]
max_tokens: 60
prompt:
  user: "{prompt}"
cases:
  - id: fine
    vars: {{word: hi}}
{more}"""


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    # 40 "a"s then "!": where /^(a|aa)+$/ backtracks through every way to split the a's.
    with Simulator({"default": {"answer": "canned", "canned_default": "a" * 40 + "!"}}) as s:
        yield s


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sim: Simulator,
        prompt: str, more: str, *args: str) -> tuple[pytest.RunResult, list[dict[str, object]]]:
    pytester.makefile(".yaml", **{"evals/g": SUITE.format(prompt=prompt, more=more)})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sim")
    monkeypatch.setenv("OPENAI_BASE_URL", sim.base_url("openai"))
    monkeypatch.setenv("LLM_HARNESS_CACHE_DIR", str(pytester.path / "cache"))
    monkeypatch.setenv("LLM_HARNESS_SCORER_TIMEOUT_S", "1")
    result = pytester.runpytest("evals", "-p", "no:cacheprovider", "--llm-report=false",
                                "--llm-out=run", *args)
    path = Path(pytester.path / "run" / "results.jsonl")
    records = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    return result, records


def test_catastrophic_regex_fails_its_cell_in_time(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sim: Simulator
) -> None:
    more = "    assert: [{type: regex, value: '^(a|aa)+$'}]\n"
    result, records = run(pytester, monkeypatch, sim, "Say {{ word }}",
                          more.replace("    assert", "  - id: evil\n    vars: {word: x}\n"
                                       "    assert"))
    assert result.ret == 1
    text = result.stdout.str()
    assert "took over 1 s" in text and "Traceback" not in text
    assert {r["case_id"]: r["status"] for r in records} == {"fine": "passed", "evil": "failed"}


def test_sys_exit_in_a_python_scorer_is_that_cells_failure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sim: Simulator
) -> None:
    pytester.makepyfile(**{"evals/checks": "import sys\n\ndef bye(output, ctx):\n"
                           "    sys.exit(3)\n\ndef slow(output, ctx):\n"
                           "    import time\n    time.sleep(30)\n"})
    more = ("  - id: exits\n    vars: {word: x}\n    assert: [{type: python, value: 'checks:bye'}]\n"
            "  - id: slow\n    vars: {word: y}\n    assert: [{type: python, value: 'checks:slow'}]\n")
    result, records = run(pytester, monkeypatch, sim, "Say {{ word }}", more)
    assert result.ret == 1
    text = result.stdout.str()
    assert "scorer raised SystemExit: 3" in text
    assert "did not return within 1 s" in text
    assert "Traceback" not in text
    assert {r["case_id"]: r["status"] for r in records} == {
        "fine": "passed", "exits": "failed", "slow": "failed"}


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("{{ ''.__class__.__mro__ }}", "blocked by the sandbox"),
        ("{{ 'x' * 300000000 }}", "over the limit"),
        ("{{ word * 3000000 }}", "over the limit"),
        ("{{ 9 ** 99999999 }}", "over the limit"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    ],
)
def test_template_violations_are_collection_errors_naming_the_case(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sim: Simulator,
    prompt: str, words: str,
) -> None:
    sim.reset()
    result, records = run(pytester, monkeypatch, sim, prompt, "")
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == 2
    assert "Traceback" not in text
    assert any(words in line and "evals/g.yaml:7: case 'fine'" in line
               for line in text.splitlines()), text
    assert records == []
    assert sim.request_count() == 0


def test_a_plain_substitution_is_bounded_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sim: Simulator
) -> None:
    monkeypatch.setenv("LLM_HARNESS_MAX_PROMPT_CHARS", "100")
    more = "  - id: long\n    vars: {word: " + "y" * 200 + "}\n"
    sim.reset()
    result, records = run(pytester, monkeypatch, sim, "Say {{ word }}", more)
    text = result.stdout.str()
    assert result.ret == 2
    assert "evals/g.yaml:9: case 'long': the rendered template has 204 characters, over the " \
           "limit of 100" in text
    assert "Traceback" not in text and records == []
    assert sim.request_count() == 0


def test_slow_expressions_and_transforms_fail_their_cells_in_time(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, sim: Simulator
) -> None:
    # Suite-author code shares the python scorer's time limit (1 s here). Each slow piece
    # runs a few seconds, then ends on its own: a thread left behind must not spin forever.
    # (The expression loops in Python: one long C call, like sum(range(n)), holds the GIL
    # and cannot be interrupted by a thread-based limit.)
    pytester.makepyfile(**{"evals/shape": "import time\n\ndef slow(output, names):\n"
                           "    time.sleep(3)\n    return output\n"})
    more = (
        "  - id: slow-expression\n    vars: {word: x}\n"
        "    assert: [{type: expression, value: 'sum(i for i in range(60_000_000)) > 0'}]\n"
        "  - id: slow-transform\n    vars: {word: y}\n"
        "    assert: [{type: contains, value: a, transform: 'shape:slow'}]\n"
    )
    result, records = run(pytester, monkeypatch, sim, "Say {{ word }}", more)
    assert result.ret == 1
    text = result.stdout.str()
    assert "did not return within 1 s" in text
    assert "Traceback" not in text
    assert {r["case_id"]: r["status"] for r in records} == {
        "fine": "passed", "slow-expression": "failed", "slow-transform": "failed"}
