"""python (user function) and llm-rubric (judge) scorers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import ProviderError
from harness.scoring import ScoreContext, validate_assertion
from harness.scoring.base import run_one
from harness.scoring.jsonparse import JSONParseError
from harness.scoring.rubric import parse_verdict
from harness.types import Completion

CHECKS = '''
from harness.types import Score

def as_bool(output, ctx):
    return "please" in output

def as_float(output, ctx):
    return len(output) / 10

def as_dict(output, ctx):
    return {"pass": output == ctx.vars["want"], "score": 0.9, "reason": "compared to want"}

def as_score_only(output, ctx):
    return {"score": 0.2}

def as_score(output, ctx):
    return Score("anything", True, 1, "fine")

def as_nonsense(output, ctx):
    return "yes"

def boom(output, ctx):
    raise RuntimeError("user bug")
'''


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "checks_for_harness_test.py").write_text(CHECKS)
    return tmp_path


def py(base: Path, output: str, fn: str, **extra: Any):
    spec = {"type": "python", "value": f"checks_for_harness_test:{fn}", **extra}
    assert validate_assertion(spec) is None
    ctx = ScoreContext(output=output, base_dir=base, vars={"want": "ok"})
    return run_one(ctx, spec)


def test_python_return_kinds(base: Path) -> None:
    assert py(base, "yes please", "as_bool").passed
    assert not py(base, "no", "as_bool").passed
    s = py(base, "123456", "as_float")
    assert s.passed and s.value == pytest.approx(0.6)
    assert not py(base, "123456", "as_float", threshold=0.7).passed
    s = py(base, "ok", "as_dict")
    assert s.passed and s.value == 0.9 and s.reason == "compared to want"
    assert not py(base, "nope", "as_dict").passed
    assert not py(base, "x", "as_score_only").passed
    s = py(base, "x", "as_score")
    assert s.passed and s.name == "python"
    s = py(base, "x", "as_nonsense")
    assert not s.passed and "returned str" in s.reason


def test_python_errors_are_failed_scores(base: Path) -> None:
    s = py(base, "x", "boom")
    assert not s.passed and "RuntimeError: user bug" in s.reason
    s = py(base, "x", "missing_function")
    assert not s.passed and "AttributeError" in s.reason


def test_python_file_path_and_importable_module(base: Path) -> None:
    spec = {"type": "python", "value": "checks_for_harness_test.py:as_bool"}
    assert run_one(ScoreContext(output="please", base_dir=base), spec).passed
    spec = {"type": "python", "value": "json:loads"}  # any importable callable
    s = run_one(ScoreContext(output="x"), spec)
    assert not s.passed  # json.loads("x", ctx) raises: reported, not raised


@pytest.mark.parametrize("value", ["nocolon", ":fn", "mod:", 3])
def test_python_validation(value: Any) -> None:
    got = validate_assertion({"type": "python", "value": value})
    assert got is not None and "module:name" in got


class FakeJudge:
    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.calls: list[tuple[str, list[dict[str, str]]]] = []

    def __call__(self, target: str, messages: list[dict[str, str]]) -> Completion:
        self.calls.append((target, messages))
        if isinstance(self.reply, Exception):
            raise self.reply
        return Completion(self.reply)


def rubric(judge: FakeJudge, output: str = "Bonjour", **extra: Any):
    spec = {"type": "llm-rubric", "value": "answers in {{ lang }}",
            "provider": "openai:gpt-4o-mini", **extra}
    problem = validate_assertion(spec)
    assert problem is None, problem
    ctx = ScoreContext(output=output, vars={"lang": "French"}, judge=judge)
    return run_one(ctx, spec)


def test_rubric_pass_and_prompt() -> None:
    judge = FakeJudge('{"pass": true, "score": 0.9, "reason": "It is French."}')
    s = rubric(judge)
    assert s.passed and s.value == 0.9 and "It is French." in s.reason
    target, messages = judge.calls[0]
    assert target == "openai:gpt-4o-mini"
    assert messages[0]["role"] == "system" and '"pass"' in messages[0]["content"]
    assert "answers in French" in messages[1]["content"]
    assert "Bonjour" in messages[1]["content"]


def test_rubric_fail_threshold_fence_and_prose() -> None:
    assert not rubric(FakeJudge('{"pass": false, "score": 0.1, "reason": "English"}')).passed
    s = rubric(FakeJudge('{"pass": true, "score": 0.6, "reason": "meh"}'), threshold=0.7)
    assert not s.passed and "score 0.6 < threshold 0.7" in s.reason
    fenced = '```json\n{"pass": true, "score": 1, "reason": "ok"}\n```'
    assert rubric(FakeJudge(fenced)).passed
    prose = 'Verdict: {"pass": true, "reason": "ok"} done.'
    assert rubric(FakeJudge(prose)).passed


def test_rubric_bad_verdicts_and_judge_errors() -> None:
    s = rubric(FakeJudge("I think it passes."))
    assert not s.passed and "I think it passes." in s.reason
    s = rubric(FakeJudge('{"pass": "yes"}'))
    assert not s.passed and "boolean 'pass'" in s.reason
    s = rubric(FakeJudge(ProviderError("judge down")))
    assert not s.passed and "judge call failed: judge down" in s.reason
    no_judge = run_one(ScoreContext(output="x"), {"type": "llm-rubric", "value": "r",
                                                    "target": "openai:gpt-4o-mini"})
    assert not no_judge.passed and "no judge" in no_judge.reason


def test_rubric_custom_prompt() -> None:
    judge = FakeJudge('{"pass": true}')
    rubric(judge, prompt="Rubric: {{ rubric }} / Answer: {{ output }} / lang={{ lang }}")
    assert judge.calls[0][1][1]["content"] == (
        "Rubric: answers in French / Answer: Bonjour / lang=French"
    )


def test_parse_verdict() -> None:
    assert parse_verdict('{"passed": false, "score": 0}') == {"pass": False, "score": 0,
                                                            "reason": ""}
    with pytest.raises(JSONParseError, match="score"):
        parse_verdict('{"pass": true, "score": 7}')
    with pytest.raises(JSONParseError):
        parse_verdict("[1, 2]")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "llm-rubric", "provider": "openai:gpt-4o"}, "needs 'value'"),
        ({"type": "llm-rubric", "value": "r"}, "needs the judge"),
        ({"type": "llm-rubric", "value": "r", "provider": "gpt-4o"}, "malformed target"),
        ({"type": "llm-rubric", "value": "r", "provider": "nope:x"}, "unknown provider"),
        ({"type": "llm-rubric", "value": "r", "target": "openai:m", "threshold": 2}, "0 to 1"),
        ({"type": "llm-rubric", "value": "r", "target": "openai:m", "prompt": "{{ x"},
         "template syntax error"),
    ],
)
def test_rubric_validation(spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion(spec)
    assert got is not None and problem in got


def test_failed_rubric_names_the_rubric_or_its_metric() -> None:
    s = rubric(FakeJudge('{"pass": false, "score": 0.1, "reason": "English"}'))
    assert s.reason == "[answers in French] judge openai:gpt-4o-mini: English"
    s = rubric(FakeJudge('{"pass": false, "score": 0.1, "reason": "English"}'), metric="tone")
    assert s.reason.startswith("[tone] ") and s.metric == "tone"


@pytest.mark.parametrize(
    ("kind", "system_words", "user_words"),
    [
        ("factuality", "expert answer", "<expert_answer>\nParis is the capital"),
        ("model-graded-closedqa", "meets a criterion", "<criterion>\nParis is the capital"),
    ],
)
def test_factuality_and_closedqa_ask_their_own_question(
    kind: str, system_words: str, user_words: str
) -> None:
    judge = FakeJudge('{"pass": false, "score": 0.2, "reason": "disagrees"}')
    spec = {"type": kind, "value": "Paris is the capital", "provider": "openai:gpt-4o-mini"}
    assert validate_assertion(spec) is None
    s = run_one(ScoreContext(output="Lyon", judge=judge), spec)
    assert not s.passed and s.name == kind and "disagrees" in s.reason
    system, user = judge.calls[0][1]
    assert system_words in system["content"] and user_words in user["content"]
    assert "<submission>\nLyon" in user["content"]
    assert validate_assertion({"type": kind, "value": "x"}) is not None  # needs a judge


def test_verdict_is_requested_as_structured_output() -> None:
    from harness.scoring.rubric import VERDICT_SCHEMA, verdict_format

    assert verdict_format("local") == {"structured": "native", "response_schema": VERDICT_SCHEMA}
    assert verdict_format("groq")["structured"] == "json"
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(VERDICT_SCHEMA)
