"""rouge-n, bleu, is-xml, is-sql and assert-set as units: the formulas against hand-computed
values, the XML parser's refusals, what counts as a SQL statement, a group's rules."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from harness.scoring import ScoreContext, validate_assertion
from harness.scoring.base import run_one
from harness.scoring.overlap import bleu, rouge_n
from harness.suite.loader import load_suite


def score(output: str, **spec: object) -> tuple[bool, object, str]:
    assert validate_assertion(spec) is None, validate_assertion(spec)
    s = run_one(ScoreContext(output=output), spec)
    return s.passed, s.value, s.reason


# -- rouge-n, bleu ---------------------------------------------------------------------------


def test_rouge_n_is_recall_of_the_reference_ngrams_counted_once_each() -> None:
    # reference unigrams: the x2, cat, sat, on, mat (6); the output has the, cat, sat.
    assert rouge_n("The cat sat", "the cat sat on the mat") == pytest.approx(3 / 6)
    # bigrams of the reference: 5; the output has "the cat" and "cat sat".
    assert rouge_n("the cat sat", "the cat sat on the mat", 2) == pytest.approx(2 / 5)
    assert rouge_n("the the the", "the cat") == pytest.approx(1 / 2)  # clipped at 1
    assert rouge_n("anything", "") == 0.0


def test_rouge_n_takes_the_best_reference_and_its_threshold() -> None:
    assert score("the cat sat", type="rouge-n", value=["a dog", "the cat sat"])[:2] == (True, 1.0)
    passed, value, reason = score("the cat", type="rouge-n", value="the cat sat")
    assert not passed and value == pytest.approx(0.6667) and "0.75" in reason


def test_bleu_matches_the_formula() -> None:
    assert bleu("the cat sat on the mat", ["the cat sat on the mat"]) == pytest.approx(1.0)
    # precisions 4/5, 3/4, 2/3, 1/2, equal lengths: (0.8 * 0.75 * 2/3 * 0.5) ** 0.25
    expected = math.exp(0.25 * sum(math.log(p + 1e-10) for p in (0.8, 0.75, 2 / 3, 0.5)))
    assert bleu("a b c d e", ["a b c d f"]) == pytest.approx(expected)
    # Clipping: "the" counted at most as often as the reference has it.
    unigram = bleu("the the the the", ["the cat"], weights=(1.0,))
    assert unigram == pytest.approx(0.25)
    # Brevity: 4 words against an 8-word reference: exp(1 - 8/4) times the precision (1).
    short = bleu("a b c d", ["a b c d e f g h"], weights=(1.0,))
    assert short == pytest.approx(math.exp(1 - 8 / 4))
    # Several references: each n-gram clipped at its largest count in any one of them.
    assert bleu("x y", ["x z", "q y"], weights=(1.0,)) == pytest.approx(1.0)


def test_bleu_threshold_default_is_half() -> None:
    assert score("a b c d e", type="bleu", value="a b c d f")[0]
    assert not score("a b c d e", type="bleu", value="a b c d f", threshold=0.9)[0]


@pytest.mark.parametrize("spec", [
    {"type": "bleu"}, {"type": "bleu", "value": ""}, {"type": "rouge-n", "value": "x", "n": 5},
    {"type": "rouge-n", "value": "x", "threshold": 2}, {"type": "bleu", "value": "x", "n": 2},
])
def test_overlap_bad_specs_are_refused(spec: dict[str, object]) -> None:
    assert validate_assertion(spec) is not None


# -- is-xml ------------------------------------------------------------------------------------

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;">]><l>&c;</l>')
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'


@pytest.mark.parametrize("doc", [LAUGHS, EXTERNAL])
def test_is_xml_refuses_dtds_and_entities(doc: str) -> None:
    passed, _, reason = score(doc, type="is-xml")
    assert not passed and "DTDs and entities are not accepted" in reason


def test_is_xml_checks_well_formedness_and_required_elements() -> None:
    doc = "\n<r><a><b>1</b></a><c/></r>\n"
    assert score(doc, type="is-xml")[0]
    assert score(doc, type="is-xml", value=["r.a.b", "r.c"])[0]
    passed, _, reason = score(doc, type="is-xml", value="r.a.b, r.d, x.a")
    assert not passed and "['r.d', 'x.a']" in reason
    assert "not well-formed" in score("<r><a></r>", type="is-xml")[2]
    assert "does not start with an XML tag" in score("Sure! <r/>", type="is-xml")[2]


# -- is-sql ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sql", "ok"), [
    ("SELECT a FROM t WHERE b = 1", True),
    ("WITH c AS (SELECT 1) SELECT * FROM c; DELETE FROM t", True),
    ("CREATE TABLE x (a INT)", True),
    ("DROP TABLE x", True),
    ("hello world", False),  # parses as an alias expression: not a statement
    ("1 + 1", False),
    ("SELECT FROM WHERE", False),
    ("", False),
])
def test_is_sql_wants_statements(sql: str, ok: bool) -> None:
    pytest.importorskip("sqlglot")
    assert score(sql, type="is-sql")[0] is ok


def test_is_sql_dialects_and_allowed_names() -> None:
    pytest.importorskip("sqlglot")
    assert score("SELECT `a` FROM t", type="is-sql", dialect="MySQL")[0]
    assert not score("SELECT `a` FROM t", type="is-sql", dialect="PostgreSQL")[0]
    assert score("SELECT TOP 1 a FROM t", type="is-sql", dialect="TransactSQL")[0]
    passed, _, reason = score("SELECT a, b FROM t JOIN u ON t.a = u.a", type="is-sql",
                              tables=["t"], columns=["a"])
    assert not passed and "tables not allowed: ['u']" in reason
    assert validate_assertion({"type": "is-sql", "dialect": "nosuch"}) is not None


# -- assert-set --------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "words"), [
    ({"type": "assert-set"}, "needs 'assert'"),
    ({"type": "assert-set", "assert": [{"type": "assert-set", "assert": []}]}, "do not nest"),
    ({"type": "assert-set", "assert": [{"type": "contains", "value": "a", "metric": "m"}]},
     "put metric: on the assert-set"),
    ({"type": "assert-set", "assert": [{"type": "contains"}]}, "assertion 1: contains: needs"),
    ({"type": "assert-set", "assert": [{"type": "contains", "value": "a"}], "threshold": 2},
     "'threshold' is a share"),
])
def test_assert_set_problems(spec: dict[str, object], words: str) -> None:
    problem = validate_assertion(spec)
    assert problem is not None and words in problem


def test_assert_set_weights_and_transform() -> None:
    group = {"type": "assert-set", "threshold": 0.7, "assert": [
        {"type": "contains", "value": "a", "weight": 3}, {"type": "contains", "value": "z"}]}
    assert score("a", **group)[:2] == (True, 0.75)  # 3 of 4 weight passed
    # The group's transform governs its members.
    assert not score("a", **group, transform="output.upper()")[0]


def test_the_judge_reaches_a_groups_members(tmp_path: Path) -> None:
    """The suite's judge:, else the run's (--llm-judge), fills graded members of a group."""
    data = {"name": "s", "targets": ["openai:gpt-4o-mini"], "prompt": {"user": "Q {{ q }}"},
            "cases": [{"id": "c", "vars": {"q": "x"}, "assert": [
                {"type": "assert-set", "assert": [{"type": "llm-rubric", "value": "r"}]},
                {"type": "factuality", "value": "f"}]}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    case = load_suite(path, judge="anthropic:claude-haiku-4-5").cases[0]
    assert case.assertions[0]["assert"][0]["provider"] == "anthropic:claude-haiku-4-5"
    assert case.assertions[1]["provider"] == "anthropic:claude-haiku-4-5"
    path.write_text(yaml.safe_dump({**data, "judge": "openai:gpt-4o"}))
    case = load_suite(path, judge="anthropic:claude-haiku-4-5").cases[0]
    assert case.assertions[0]["assert"][0]["provider"] == "openai:gpt-4o"  # judge: first
