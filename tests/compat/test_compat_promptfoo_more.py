"""More promptfoo features, each through the plugin on the simulator: assert-set, the RAG
metrics, rouge-n / bleu, is-xml / is-sql, the run's default judge (--llm-judge) and a
case's own targets (promptfoo's per-test provider)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from compatkit import Run, scores

pytest.importorskip("openai")
pytest.importorskip("anthropic")

HEAD = "targets: [openai:gpt-4o-mini]\ntemperatures: [0.0]\nmax_tokens: 200\n"


def outcomes(run: Run) -> dict[str, str]:
    return {r["case_id"]: r["status"] for r in run.records}


def record(run: Run, case_id: str) -> dict[str, Any]:
    return next(r for r in run.records if r["case_id"] == case_id)


# 15. promptfoo "assert-set": a group with its own threshold, weight and metric.
def test_assert_set(port: Any) -> None:
    suite = HEAD + """\
name: apologies
prompt: {user: "Reply to the complaint: {{ complaint }}"}
assert:
  - type: assert-set
    threshold: 0.5
    metric: tone
    assert:
      - {type: icontains, value: sorry}
      - {type: icontains, value: refund}
      - {type: not-icontains, value: "as an AI"}
  - {type: length, max: 30, unit: words}
cases:
  - {id: full, vars: {complaint: "late parcel"}}
  - {id: half, vars: {complaint: "broken cup"}}
  - {id: none, vars: {complaint: "rude staff"}}
"""
    sim = {"default": {"canned": {
        "late parcel": "Sorry! A refund is on its way.",
        "broken cup": "Sorry about the cup.",  # 2 of 3: reaches the group's 0.5
        "rude staff": "As an AI I have no staff.",  # 0 of 3
    }}}
    run = port({"evals/apologies.yaml": suite}, sim)
    assert outcomes(run) == {"full": "passed", "half": "passed", "none": "failed"}
    group = scores(record(run, "half"))["assert-set"]
    assert group["value"] == pytest.approx(2 / 3) and group["metric"] == "tone"
    run.result.stdout.fnmatch_lines(["*assert-set [[]tone]: 0.00 of the group passed (threshold 0.5): icontains: *sorry*"])
    assert run.summary[0]["metrics"]["tone"]["passed"] == 2


def test_assert_set_inside_is_checked_at_collection(port: Any) -> None:
    suite = HEAD + """\
name: badset
prompt: {user: "hi {{ q }}"}
cases:
  - {id: c, vars: {q: x}, assert: [{type: assert-set, assert: [{type: contans, value: a}]}]}
"""
    run = port({"evals/badset.yaml": suite}, {"default": {}})
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["*assert-set: assertion 1: unknown assertion type 'contans'*"])


# 16. promptfoo "rag" examples: the four RAG metrics, graded by the suite's judge.
def test_rag_metrics(port: Any) -> None:
    suite = HEAD + """\
name: rag
judge: anthropic:claude-haiku-4-5
prompt: {user: "Context: {{ context }}\\nQuestion: {{ query }}"}
assert:
  - {type: context-faithfulness, threshold: 0.9}
  - {type: answer-relevance, threshold: 0.7}
cases:
  - id: paris
    vars: {query: "What is the capital of France?",
           context: ["Paris is the capital of France.", "France is in Europe."]}
    assert:
      - {type: context-recall, value: "Paris is the capital of France.", threshold: 1}
      - {type: context-relevance, threshold: 0.4}
  - id: rome
    vars: {query: "What is the capital of Italy?", context: "Rome is the capital of Italy."}
"""
    sim = {"models": {
        "gpt-4o-mini": {"canned": {
            "France?": "Paris, a city of 2 million.",
            "Italy?": "Rome, founded in 753 BC by twins.",
        }},
        "claude-*": {"canned": {
            # Keyed by what each judge prompt alone contains.
            "Paris, a city of 2 million.\n</response>": {
                "pass": True, "score": 1.0, "reason": "both claims supported"},
            "<answer>\nParis is the capital": {
                "pass": True, "score": 1.0, "reason": "all attributable"},
            "France is in Europe.\n</context>": {
                "pass": True, "score": 0.5, "reason": "one of two sentences needed"},
            "Rome, founded in 753 BC by twins.\n</response>": {
                "pass": True, "score": 0.5, "reason": "the founding is not in the context"},
        }},
    }}
    run = port({"evals/rag.yaml": suite}, sim)
    assert outcomes(run) == {"paris": "passed", "rome": "failed"}
    paris = scores(record(run, "paris"))
    assert paris["context-relevance"]["value"] == 0.5
    assert paris["context-recall"]["value"] == 1.0
    rome = scores(record(run, "rome"))
    # The judge's pass flag does not decide a RAG metric: its score against the threshold does.
    assert not rome["context-faithfulness"]["passed"]
    assert "score 0.5 < threshold 0.9" in rome["context-faithfulness"]["reason"]
    assert not rome["answer-relevance"]["passed"]  # 0.5 < 0.7


def test_rag_metric_without_its_vars_is_a_collection_error(port: Any) -> None:
    suite = HEAD + """\
name: ragvars
judge: openai:gpt-4o-mini
prompt: {user: "Q {{ q }}"}
assert: [{type: assert-set, assert: [{type: context-faithfulness}]}]
cases: [{id: c, vars: {q: x, query: y}}]
"""
    run = port({"evals/ragvars.yaml": suite}, {"default": {}})
    assert run.result.ret == 2 and run.records == []
    run.result.stdout.fnmatch_lines(["*ragvars.yaml:*case 'c': context-faithfulness reads the "
                                     "vars query, context; this case has no context*"])


# 17. promptfoo "text-to-sql", "xml-output" and "translation" examples.
def test_sql_xml_rouge_bleu(port: Any) -> None:
    pytest.importorskip("sqlglot")
    suite = HEAD + """\
name: formats
prompt: {user: "{{ task }}"}
cases:
  - id: sql-ok
    vars: {task: "SQL for all orders"}
    assert: [{type: is-sql, dialect: MySQL, tables: [orders]}]
  - id: sql-table
    vars: {task: "SQL for all users"}
    assert: [{type: is-sql, dialect: MySQL, tables: [orders]}]
  - id: sql-bad
    vars: {task: "SQL, broken"}
    assert: [{type: is-sql}]
  - id: xml-ok
    vars: {task: "XML verdict one"}
    assert: [{type: is-xml, value: "verdict.label, verdict.score"}]
  - id: xml-bomb
    vars: {task: "XML verdict two"}
    assert: [{type: is-xml}]
  - id: translate
    vars: {task: "Translate: le chat est sur le tapis"}
    assert:
      - {type: bleu, value: ["the cat is on the mat", "there is a cat on the mat"]}
      - {type: rouge-n, value: "the cat is on the mat", threshold: 0.8}
  - id: translate-bad
    vars: {task: "Translate: il pleut"}
    assert: [{type: rouge-n, value: "it is raining"}]
"""
    bomb = ('<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;">]><verdict>&b;</verdict>')
    sim = {"default": {"canned": {
        "all orders": "SELECT id, total FROM orders WHERE total > 10",
        "all users": "SELECT * FROM users",
        "broken": "SELECT FROM WHERE",
        "verdict one": "<verdict><label>spam</label><score>0.9</score></verdict>",
        "verdict two": bomb,
        "tapis": "The cat is on the mat",
        "pleut": "Weather is bad today",
    }}}
    run = port({"evals/formats.yaml": suite}, sim)
    assert outcomes(run) == {
        "sql-ok": "passed", "sql-table": "failed", "sql-bad": "failed", "xml-ok": "passed",
        "xml-bomb": "failed", "translate": "passed", "translate-bad": "failed",
    }
    assert "tables not allowed: ['users']" in scores(record(run, "sql-table"))["is-sql"]["reason"]
    assert "DTDs and entities" in scores(record(run, "xml-bomb"))["is-xml"]["reason"]
    translate = scores(record(run, "translate"))
    assert translate["bleu"]["value"] == 1.0 and translate["rouge-n"]["value"] == 1.0


# 18. promptfoo's grader from the command line: --llm-judge and its ini twin, below judge:.
RUBRIC_SUITE = HEAD + """\
name: polite
prompt: {user: "Decline politely: {{ ask }}"}
assert: [{type: llm-rubric, value: "declines politely"}]
cases: [{id: c, vars: {ask: "lend me money"}}]
"""
JUDGES = {"models": {
    "gpt-4o-mini": {"canned": {"lend me money": "Sorry, I cannot."}},
    "claude-*": {"canned": {"declines politely": {"pass": True, "score": 1, "reason": "ok"}}},
    "mistral-*": {"canned": {"declines politely": {"pass": False, "score": 0, "reason": "no"}}},
}}


def test_default_judge_from_the_command_line(port: Any) -> None:
    run = port({"evals/polite.yaml": RUBRIC_SUITE}, JUDGES,
               "--llm-judge=anthropic:claude-haiku-4-5")
    assert outcomes(run) == {"c": "passed"}
    assert "anthropic:claude-haiku-4-5" in scores(run.records[0])["llm-rubric"]["reason"]


def test_default_judge_from_ini_and_the_suite_judge_first(port: Any, pytester: Any) -> None:
    pytester.makeini("[pytest]\nllm_judge = mistral:mistral-small-latest\n")
    run = port({"evals/polite.yaml": RUBRIC_SUITE}, JUDGES)
    assert outcomes(run) == {"c": "failed"}  # the ini's judge (mistral) says no
    assert "mistral:mistral-small-latest" in scores(run.records[0])["llm-rubric"]["reason"]
    with_judge = RUBRIC_SUITE.replace("name: polite", "name: polite\njudge: anthropic:claude-haiku-4-5")
    run = port({"evals/polite.yaml": with_judge}, JUDGES, "--llm-judge=mistral:mistral-small-latest")
    assert outcomes(run) == {"c": "passed"}  # the suite's judge: comes first


def test_no_judge_anywhere_is_a_collection_error_naming_the_option(port: Any) -> None:
    run = port({"evals/polite.yaml": RUBRIC_SUITE}, JUDGES)
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(["*--llm-judge*"])


def test_bad_judge_option_is_a_usage_error(port: Any) -> None:
    run = port({"evals/polite.yaml": RUBRIC_SUITE}, JUDGES, "--llm-judge=nosuch:model")
    assert run.result.ret == 4
    run.result.stderr.fnmatch_lines(
        ["*--llm-judge: judge unknown provider *nosuch*; write it as provider:model with*"])


# 19. promptfoo's per-test provider: a case restricted to one of the suite's targets, and a
#     case that adds a target of its own (which no other case runs on).
def test_a_case_restricts_itself_to_or_adds_a_target(port: Any) -> None:
    suite = """\
name: per-case
targets: [openai:gpt-4o-mini, {provider: mistral, model: mistral-small-latest, id: small}]
temperatures: [null]
max_tokens: 100
prompt: {user: "Say {{ word }}"}
assert: [{type: icontains, value: "{{ word }}"}]
cases:
  - {id: both, vars: {word: hello}}
  - {id: only-small, vars: {word: bye}, targets: [small]}
  - {id: with-claude, vars: {word: hi}, targets: [openai:gpt-4o-mini, anthropic:claude-haiku-4-5]}
"""
    run = port({"evals/per-case.yaml": suite}, {"default": {}})
    assert sorted(run.status()) == [
        ("both", "openai:gpt-4o-mini"), ("both", "small"), ("only-small", "small"),
        ("with-claude", "anthropic:claude-haiku-4-5"), ("with-claude", "openai:gpt-4o-mini"),
    ]
    assert set(run.status().values()) == {"passed"}


def test_a_case_target_that_is_neither_is_a_collection_error(port: Any) -> None:
    suite = HEAD + """\
name: per-case-bad
prompt: {user: "Say {{ word }}"}
cases: [{id: c, vars: {word: x}, targets: [gpt4]}]
"""
    run = port({"evals/per-case-bad.yaml": suite}, {"default": {}})
    assert run.result.ret == 2
    run.result.stdout.fnmatch_lines(
        ["*case 'c': target 'gpt4' is not one of the suite's (openai:gpt-4o-mini) nor a target*"])


# 20. Named and derived metrics reach report.html (its own "Metrics" section), as they do
#     summary.json and the terminal.
def test_named_and_derived_metrics_in_the_report(port: Any, pytester: Any) -> None:
    suite = HEAD + """\
name: labels
prompt: {user: "Label: {{ text }}"}
assert:
  - {type: expression, value: "output.strip() == vars.label", metric: accuracy}
  - {type: expression, weight: 0, metric: tp, value: "output.strip() == vars.label == 'yes'"}
  - {type: expression, weight: 0, metric: fp, value: "output.strip() == 'yes' != vars.label"}
derived_metrics:
  precision: tp / (tp + fp)
  "<b>odd</b>": tp / 0
cases:
  - {id: a, vars: {text: one, label: "yes"}}
  - {id: b, vars: {text: two, label: "no"}}
"""
    run = port({"evals/labels.yaml": suite}, {"default": {"canned": {"one": "yes", "two": "yes"}}},
               "--llm-report=true")
    assert run.summary[0]["metrics"]["precision"]["derived"] == pytest.approx(0.5)
    html = next(pytester.path.glob("run*/report.html")).read_text("utf-8")
    section = html[html.index('<section id="metrics">'):]
    section = section[:section.index("</section>")]
    rows = re.findall(r"<tr [^>]*>(.*?)</tr>", section, flags=re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows]
    by_name = {c[3]: (c[4], c[5]) for c in cells}
    assert by_name["accuracy"] == ("50.0%", "1/2 passed, mean score 0.5")
    assert by_name["precision"] == ("0.5", "<code>tp / (tp + fp)</code>")
    # A name the suite chose is text, never markup; a formula that cannot be computed says why.
    odd = by_name["&lt;b&gt;odd&lt;/b&gt;"]
    assert odd[0] == "n/a" and "ZeroDivisionError" in odd[1]
    assert '<a href="#metrics">Metrics</a>' in html


def test_a_run_without_metrics_has_no_metrics_section(port: Any, pytester: Any) -> None:
    suite = HEAD + 'name: plain\nprompt: {user: "hi {{ q }}"}\ncases: [{id: c, vars: {q: x}}]\n'
    port({"evals/plain.yaml": suite}, {"default": {}}, "--llm-report=true")
    html = next(pytester.path.glob("run*/report.html")).read_text("utf-8")
    assert 'id="metrics"' not in html and "#metrics" not in html
