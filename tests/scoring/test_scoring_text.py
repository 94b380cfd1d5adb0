"""Text scorers and the registry's not-/weight/threshold handling."""

from __future__ import annotations

from typing import Any

import pytest

from harness.scoring import ScoreContext, run_assertions, validate_assertion
from harness.scoring.base import run_one
from harness.scoring.text import levenshtein_distance
from harness.types import Completion


def score(output: str, **spec: Any):
    ctx = ScoreContext(output=output, completion=Completion(output), vars={"city": "Paris"})
    assert validate_assertion(spec) is None, validate_assertion(spec)
    return run_one(ctx, spec)


@pytest.mark.parametrize(
    ("output", "spec", "passed"),
    [
        ("ACME Corp", {"type": "contains", "value": "ACME"}, True),
        ("acme corp", {"type": "contains", "value": "ACME"}, False),
        ("acme corp", {"type": "icontains", "value": "ACME"}, True),
        ("red green", {"type": "contains-all", "value": ["red", "green"]}, True),
        ("red blue", {"type": "contains-all", "value": ["red", "green"]}, False),
        ("red blue", {"type": "contains-any", "value": ["green", "red"]}, True),
        ("pink blue", {"type": "contains-any", "value": ["green", "red"]}, False),
        ("RED GREEN", {"type": "icontains-all", "value": ["red", "green"]}, True),
        ("RED", {"type": "icontains-all", "value": ["red", "green"]}, False),
        ("GREEN", {"type": "icontains-any", "value": ["red", "green"]}, True),
        ("BLUE", {"type": "icontains-any", "value": ["red", "green"]}, False),
        ("  Paris\n", {"type": "equals", "value": "Paris"}, True),
        ("Paris.", {"type": "equals", "value": "Paris"}, False),
        ("I live in Paris", {"type": "equals", "value": "I live in {{ city }}"}, True),
        ('{"a": 1, "b": [2]}', {"type": "equals", "value": {"b": [2], "a": 1}}, True),
        ('{"a": 2}', {"type": "equals", "value": {"a": 1}}, False),
        ("not json", {"type": "equals", "value": {"a": 1}}, False),
        ("call 555-1234 now", {"type": "regex", "value": r"\d{3}-\d{4}"}, True),
        ("call now", {"type": "regex", "value": r"\d{3}-\d{4}"}, False),
        ("HELLO", {"type": "regex", "value": "^hello$", "flags": "i"}, True),
        ("\n Yes, sure", {"type": "starts-with", "value": "Yes"}, True),
        ("No.", {"type": "starts-with", "value": "Yes"}, False),
        ("kitten", {"type": "levenshtein", "value": "sitting", "threshold": 3}, True),
        ("kitten", {"type": "levenshtein", "value": "sitting", "threshold": 2}, False),
    ],
)
def test_text_scorers(output: str, spec: dict[str, Any], passed: bool) -> None:
    s = score(output, **spec)
    assert s.passed is passed, s.reason
    if not passed:
        assert s.reason


def test_reasons_and_values() -> None:
    s = score("red blue", type="contains-all", value=["red", "green", "pink"])
    assert s.value == ["red"] and "['green', 'pink']" in s.reason
    s = score("call 555-1234 now", type="regex", value=r"\d{3}-\d{4}")
    assert s.value == "555-1234"
    s = score("kitten", type="levenshtein", value="sitting")
    assert s.value == 3 and s.passed  # default max distance 5
    s = score("abc", type="equals", value="abd")
    assert "expected 'abd', got 'abc'" in s.reason


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("", "", 0), ("", "abc", 3), ("abc", "", 3), ("flaw", "lawn", 2), ("kitten", "sitting", 3),
     ("gumbo", "gambol", 2), ("same", "same", 0)],
)
def test_levenshtein_distance(a: str, b: str, d: int) -> None:
    assert levenshtein_distance(a, b) == d
    assert levenshtein_distance(b, a) == d


def test_finish_reason_normalised_and_raw() -> None:
    c = Completion("x", finish_reason="length", raw_finish_reason="max_tokens")
    ctx = ScoreContext(output="x", completion=c)
    assert run_one(ctx, {"type": "finish-reason", "value": "length"}).passed
    assert run_one(ctx, {"type": "finish-reason", "value": "max_tokens"}).passed
    assert run_one(ctx, {"type": "finish-reason", "value": ["stop", "length"]}).passed
    bad = run_one(ctx, {"type": "finish-reason", "value": "stop"})
    assert not bad.passed and "finish reason length (provider: max_tokens)" in bad.reason
    assert run_one(ctx, {"type": "not-finish-reason", "value": "stop"}).passed


def test_not_prefix_negates_and_keeps_name() -> None:
    s = score("ACME", type="not-contains", value="ACME")
    assert not s.passed and s.name == "not-contains" and s.reason == "found 'ACME'"
    s = score("Sure, as an AI I can't", type="not-icontains-any", value=["as an ai", "sorry"])
    assert not s.passed and s.reason == "found 'as an ai'"
    s = score("call 555-1234", type="not-regex", value=r"\d{3}-\d{4}")
    assert not s.passed and s.reason == "found '555-1234'"
    assert score("Globex", type="not-contains", value="ACME").passed


def test_weights_and_threshold() -> None:
    ctx = ScoreContext(output="alpha beta")
    specs = [
        {"type": "contains", "value": "alpha", "weight": 3},
        {"type": "contains", "value": "gamma", "weight": 1},
    ]
    ok, scores = run_assertions(ctx, specs)
    assert not ok and [s.passed for s in scores] == [True, False]
    assert run_assertions(ctx, specs, threshold=0.75)[0]
    assert not run_assertions(ctx, specs, threshold=0.8)[0]
    zero = [specs[0], {**specs[1], "weight": 0}]
    assert run_assertions(ctx, zero)[0]  # a weight-0 assertion is informational


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "contains"}, "needs 'value'"),
        ({"type": "contains", "value": ""}, "needs 'value'"),
        ({"type": "contains-all", "value": "red"}, "list of strings"),
        ({"type": "icontains-any", "value": []}, "list of strings"),
        ({"type": "equals"}, "needs 'value'"),
        ({"type": "regex", "value": "("}, "invalid pattern"),
        ({"type": "regex", "value": "a", "flags": "q"}, "flags"),
        ({"type": "starts-with", "value": ["a"]}, "non-empty string"),
        ({"type": "levenshtein", "value": "a", "threshold": -1}, "number >= 0"),
        ({"type": "finish-reason"}, "finish-reason: needs 'value'"),
        ({"type": "not-nope"}, "unknown assertion type"),
        ({"type": "contains", "value": "x", "weight": -1}, "weight"),
    ],
)
def test_validation_problems(spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion(spec)
    assert got is not None and problem in got


def test_missing_template_var_is_a_failed_score_not_a_crash() -> None:
    s = run_one(ScoreContext(output="x"), {"type": "contains", "value": "{{ nope }}"})
    assert not s.passed and "nope" in s.reason


def test_numbers_from_yaml_are_text() -> None:
    assert score("The answer is 42.", type="contains", value=42).passed
    assert score("3.5 stars", type="starts-with", value=3.5).passed
    assert score("7 and 8", type="contains-all", value=[7, 8]).passed
    assert not score("7", type="contains-any", value=[9, 10]).passed
    assert validate_assertion({"type": "contains", "value": True}) is not None
