"""The rule under the loader: every key it accepts is documented and changes the outcome.

Walks every key of every built-in assertion type (scoring.base.KEYS and COMMON_KEYS) and
every suite, case and target-mapping key (the loader's models), proving for each that
setting it (or setting it differently) changes what a cell sends, is, or scores; and that
docs/suites.md and docs/scoring.md name each one.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.scoring import SCORERS, ScoreContext, validate_assertion
from harness.scoring.base import COMMON_KEYS, KEYS, run_one
from harness.suite.keys import TARGET_SETTINGS, CaseModel, SuiteModel
from harness.suite.loader import load_suite
from harness.suite.targets import parse_target
from harness.types import Completion, ToolCall, Usage

ROOT = Path(__file__).resolve().parents[1]

# -- assertion keys ----------------------------------------------------------------------


def judge(target: str, messages: list[dict[str, str]]) -> Completion:
    """Passes only a judge named openai:good whose prompt mentions 'Paris'."""
    ok = target == "openai:good" and "Paris" in messages[-1]["content"]
    score = 0.8 if ok else 0
    return Completion(f'{{"pass": {str(ok).lower()}, "score": {score}, "reason": "r"}}')


#: The vars the RAG metrics read (and the judge sees in their prompts).
RAG_VARS = {"query": "Is Paris in France?", "context": ["Paris is in France.", "It rains."]}
CALLS = (ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"tz": "CET"}))

#: (type, key) -> (output, spec A, spec B): A and B differ only in that key.
GRADED = {"type": "llm-rubric", "value": "mentions Paris", "provider": "openai:good"}
CASES: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any]]] = {
    ("equals", "value"): ("Paris", {"value": "Paris"}, {"value": "Lyon"}),
    ("regex", "value"): ("Paris", {"value": "^P"}, {"value": "^L"}),
    ("regex", "flags"): ("Paris", {"value": "^p"}, {"value": "^p", "flags": "i"}),
    ("starts-with", "value"): ("Paris", {"value": "P"}, {"value": "L"}),
    ("levenshtein", "value"): ("Paris", {"value": "Pari"}, {"value": "London"}),
    ("levenshtein", "threshold"): ("Paris", {"value": "Pa"}, {"value": "Pa", "threshold": 2}),
    ("finish-reason", "value"): ("x", {"value": "stop"}, {"value": "length"}),
    ("is-json", "schema"): ('{"a": 1}', {}, {"schema": {"required": ["b"]}}),
    ("is-json", "value"): ('{"a": 1}', {}, {"value": {"required": ["b"]}}),
    ("is-json", "model"): ('{"a": 1}', {}, {"model": "keymodels.py:NeedsB"}),
    ("contains-json", "schema"): ('x {"a": 1}', {}, {"schema": {"required": ["b"]}}),
    ("contains-json", "value"): ('x {"a": 1}', {}, {"value": {"required": ["b"]}}),
    ("contains-json", "model"): ('x {"a": 1}', {}, {"model": "keymodels.py:NeedsB"}),
    ("schema-valid", "schema"): ('{"a": 1}', {"schema": {}}, {"schema": {"required": ["b"]}}),
    ("schema-valid", "model"): ('{"a": 1}', {"schema": {}}, {"model": "keymodels.py:NeedsB"}),
    ("json-path", "path"): ('{"a": 1}', {"path": "$.a"}, {"path": "$.b"}),
    ("json-path", "equals"): ('{"a": 1}', {"path": "$.a"}, {"path": "$.a", "equals": 2}),
    ("json-path", "contains"): ('{"a": "xy"}', {"path": "$.a"}, {"path": "$.a", "contains": "z"}),
    ("json-path", "matches"): ('{"a": "xy"}', {"path": "$.a"}, {"path": "$.a", "matches": "z"}),
    ("json-path", "kind"): ('{"a": 1}', {"path": "$.a"}, {"path": "$.a", "kind": "string"}),
    ("json-path", "gt"): ('{"a": 1}', {"path": "$.a"}, {"path": "$.a", "gt": 1}),
    ("json-path", "gte"): ('{"a": 1}', {"path": "$.a"}, {"path": "$.a", "gte": 2}),
    ("json-path", "lt"): ('{"a": 1}', {"path": "$.a"}, {"path": "$.a", "lt": 1}),
    ("json-path", "lte"): ('{"a": 1}', {"path": "$.a"}, {"path": "$.a", "lte": 0}),
    ("expression", "value"): ("Paris", {"value": "'P' in output"}, {"value": "'L' in output"}),
    ("expression", "threshold"): ("x", {"value": "0.6"}, {"value": "0.6", "threshold": 0.7}),
    ("length", "min"): ("Paris", {"max": 9}, {"max": 9, "min": 6}),
    ("length", "max"): ("Paris", {"min": 1}, {"min": 1, "max": 4}),
    ("length", "unit"): ("a b", {"max": 2}, {"max": 2, "unit": "words"}),
    ("tool-call", "name"): ("", {"name": "get_weather"}, {"name": "get_news"}),
    ("tool-call", "arguments"): ("", {"name": "get_weather"},
                                 {"name": "get_weather", "arguments": {"city": "Rome"}}),
    ("tool-call", "schema"): ("", {"name": "get_weather"},
                              {"name": "get_weather", "schema": {"required": ["day"]}}),
    ("tool-call", "index"): ("", {"name": "get_weather"}, {"name": "get_weather", "index": 1}),
    ("latency", "max_ms"): ("x", {"max_ttft_ms": 900}, {"max_ttft_ms": 900, "max_ms": 100}),
    ("latency", "max_ttft_ms"): ("x", {"max_ms": 900}, {"max_ms": 900, "max_ttft_ms": 10}),
    ("cost", "max_usd"): ("x", {"max_usd": 1}, {"max_usd": 0.0001}),
    ("python", "value"): ("Paris", {"value": "keymodels.py:score"},
                          {"value": "keymodels.py:other"}),
    ("python", "threshold"): ("Paris", {"value": "keymodels.py:score"},
                              {"value": "keymodels.py:score", "threshold": 0.9}),
    ("similar", "value"): ("the cat sat", {"value": "the cat sat"}, {"value": "stock prices"}),
    ("similar", "threshold"): ("the cat sat", {"value": "a cat sat down"},
                               {"value": "a cat sat down", "threshold": 0.999}),
}
for _kind in ("llm-rubric", "factuality", "model-graded-closedqa"):
    _base = {**GRADED, "type": _kind}
    CASES[(_kind, "value")] = ("x", _base, {**_base, "value": "mentions Rome"})
    CASES[(_kind, "provider")] = ("x", _base, {**_base, "provider": "openai:bad"})
    _target = {k: v for k, v in _base.items() if k != "provider"}
    CASES[(_kind, "target")] = ("x", {**_target, "target": "openai:good"},
                                {**_target, "target": "openai:bad"})
    CASES[(_kind, "threshold")] = ("x", _base, {**_base, "threshold": 0.9})
    CASES[(_kind, "prompt")] = ("x", _base, {**_base, "prompt": "{{ output }}"})
for _kind in ("context-faithfulness", "context-relevance", "context-recall", "answer-relevance"):
    # RAG metrics: the score decides (threshold default 0); the vars carry query and context.
    _rag = {"type": _kind, "provider": "openai:good"}
    CASES[(_kind, "provider")] = ("x", _rag, {**_rag, "provider": "openai:bad"})
    _target = {"type": _kind}
    CASES[(_kind, "target")] = ("x", {**_target, "target": "openai:good"},
                                {**_target, "target": "openai:bad"})
    CASES[(_kind, "threshold")] = ("x", _rag, {**_rag, "threshold": 0.9})
    CASES[(_kind, "prompt")] = ("x", _rag, {**_rag, "prompt": "{{ output }}"})
_recall = {"type": "context-recall", "provider": "openai:good", "prompt": "{{ rubric }}"}
CASES[("context-recall", "value")] = ("x", {**_recall, "value": "mentions Paris"},
                                      {**_recall, "value": "mentions Rome"})
for _kind in ("context-recall",):
    for _key in ("provider", "target", "threshold", "prompt"):
        _out, _a, _b = CASES[(_kind, _key)]
        CASES[(_kind, _key)] = (_out, {"value": "Paris", **_a}, {"value": "Paris", **_b})
CASES.update({
    ("assert-set", "assert"): ("Paris", {"assert": [{"type": "contains", "value": "Par"}]},
                               {"assert": [{"type": "contains", "value": "Ly"}]}),
    ("assert-set", "threshold"): (
        "Paris", {"assert": [{"type": "contains", "value": "Par"},
                             {"type": "contains", "value": "Ly"}]},
        {"assert": [{"type": "contains", "value": "Par"}, {"type": "contains", "value": "Ly"}],
         "threshold": 0.5}),
    ("rouge-n", "value"): ("the cat sat", {"value": "the cat sat"}, {"value": "a dog ran"}),
    ("rouge-n", "threshold"): ("the cat", {"value": "the cat sat"},
                               {"value": "the cat sat", "threshold": 0.5}),
    ("rouge-n", "n"): ("cat the", {"value": "the cat"}, {"value": "the cat", "n": 2}),
    ("bleu", "value"): ("the cat sat on the mat", {"value": "the cat sat on the mat"},
                        {"value": "a dog ran in the park"}),
    ("bleu", "threshold"): ("a b c d e", {"value": "a b c d f"},
                            {"value": "a b c d f", "threshold": 0.9}),
    ("is-xml", "value"): ("<a><b/></a>", {}, {"value": "a.c"}),
    ("is-sql", "dialect"): ("SELECT `a` FROM t", {"dialect": "mysql"}, {"dialect": "postgres"}),
    ("is-sql", "tables"): ("SELECT a FROM t", {}, {"tables": ["u"]}),
    ("is-sql", "columns"): ("SELECT a FROM t", {}, {"columns": ["b"]}),
})
for _kind in ("contains", "icontains"):
    CASES[(_kind, "value")] = ("Paris", {"value": "Par"}, {"value": "Lyon"})
    for _mode in ("all", "any"):
        CASES[(f"{_kind}-{_mode}", "value")] = ("Paris", {"value": ["Par"]}, {"value": ["Ly"]})

#: Keys every type takes, shown on contains.
COMMON = {
    "weight": ("Paris", {"type": "contains", "value": "Paris"},
               {"type": "contains", "value": "Paris", "weight": 3}),
    "transform": ("Paris", {"type": "contains", "value": "Paris"},
                  {"type": "contains", "value": "Paris", "transform": "output.lower()"}),
    "metric": ("Paris", {"type": "contains", "value": "Paris"},
               {"type": "contains", "value": "Paris", "metric": "geo"}),
}

KEYMODELS = '''
import pydantic


class NeedsB(pydantic.BaseModel):
    b: int


def score(output, ctx):
    return 0.8


def other(output, ctx):
    return False
'''


def outcome(tmp_path: Path, output: str, spec: dict[str, Any]) -> tuple[Any, ...]:
    problem = validate_assertion(spec)
    if problem and "similar" in problem and "extra" in problem:
        pytest.skip("the similar extra is not installed")
    assert problem is None, problem
    completion = Completion(output, finish_reason="stop", latency_ms=300.0, ttft_ms=50.0,
                            usage=Usage(10, 10), tool_calls=CALLS if not output else ())
    ctx = ScoreContext(output=output, completion=completion, latency_ms=300.0, ttft_ms=50.0,
                       cost_usd=0.001, base_dir=tmp_path, judge=judge,
                       vars=RAG_VARS)
    s = run_one(ctx, spec)
    return (s.passed, s.value, s.weight, s.metric)


def builtin_pairs() -> list[tuple[str, str]]:
    return sorted((kind, key) for kind, keys in KEYS.items() for key in keys)


def test_every_assertion_key_has_a_case() -> None:
    assert set(KEYS) == set(SCORERS), "a built-in type registered no keys"
    assert sorted(CASES) == builtin_pairs()
    assert set(COMMON) == COMMON_KEYS - {"type"}


@pytest.mark.parametrize(("kind", "key"), builtin_pairs())
def test_each_assertion_key_changes_the_outcome(tmp_path: Path, kind: str, key: str) -> None:
    (tmp_path / "keymodels.py").write_text(KEYMODELS)
    output, a, b = CASES[(kind, key)]
    assert outcome(tmp_path, output, {"type": kind, **a}) != outcome(
        tmp_path, output, {"type": kind, **b}
    )


@pytest.mark.parametrize("key", sorted(COMMON))
def test_each_common_key_changes_the_outcome(tmp_path: Path, key: str) -> None:
    output, a, b = COMMON[key]
    if key == "transform":  # lower-casing makes "Paris" absent
        assert outcome(tmp_path, output, a)[0] != outcome(tmp_path, output, b)[0]
    else:
        assert outcome(tmp_path, output, a) != outcome(tmp_path, output, b)


def test_every_assertion_type_and_key_is_documented() -> None:
    text = (ROOT / "docs" / "scoring.md").read_text("utf-8")
    for kind, keys in KEYS.items():
        row = next((line for line in text.splitlines()
                    if line.startswith("|") and f"`{kind}`" in line.split("|")[1]), None)
        assert row is not None, f"{kind} has no row in docs/scoring.md"
        for key in keys:
            assert f"`{key}`" in row, f"{kind}: key {key!r} missing from its docs row"
    for key in COMMON_KEYS - {"type"}:
        assert f"`{key}`" in text


# -- suite, case and target keys -----------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "s",
    "targets": ["openai:gpt-4o-mini"],
    "prompt": {"user": "Q {{ q }}"},
    "cases": [{"id": "c", "vars": {"q": "x"},
               "assert": [{"type": "llm-rubric", "value": "r", "provider": "openai:j"}]}],
}
SCHEMA = {"type": "object"}


def _suite(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def _case(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["cases"][0].update(changes)
    return data


def _target(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["targets"] = [{"provider": "openai", "model": "gpt-4o-mini", **changes}]
    return data


# key -> (suite A, suite B) that differ only in that key.
SUITE_KEYS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "name": (BASE, _suite(name="t")),
    "targets": (BASE, _suite(targets=["groq:llama"])),
    "temperatures": (BASE, _suite(temperatures=[0.2, 0.4])),
    "repeat": (BASE, _suite(repeat=2)),
    "max_tokens": (BASE, _suite(max_tokens=9)),
    "timeout_s": (BASE, _suite(timeout_s=9)),
    "stream": (BASE, _suite(stream=True)),
    "structured": (_suite(schema=SCHEMA), _suite(schema=SCHEMA, structured="native")),
    "seed": (BASE, _suite(seed=3)),
    "prompt": (BASE, _suite(prompt={"user": "R {{ q }}"})),
    "messages": ({k: v for k, v in BASE.items() if k != "prompt"} | {
        "messages": [{"role": "user", "content": "Q {{ q }}"}]},
        {k: v for k, v in BASE.items() if k != "prompt"} | {
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "{{ q }}"}]}),
    "schema": (BASE, _suite(schema=SCHEMA)),
    "tools": (BASE, _suite(tools=[{"name": "f", "input_schema": SCHEMA}])),
    "tool_choice": (BASE, _suite(tool_choice="required")),
    "dataset": (BASE, _suite(dataset="more.jsonl")),
    "threshold": (BASE, _suite(threshold=0.5)),
    "assert": (BASE, _suite(**{"assert": [{"type": "contains", "value": "a"}]})),
    "cases": (BASE, _suite(cases=[{"id": "d", "vars": {"q": "y"}}])),
    "transform": (BASE, _suite(transform="output.strip()")),
    "vars": (BASE, _suite(vars={"q": "z"}, cases=[{"id": "c", "vars": {}}])),
}
_NO_PROMPT = {k: v for k, v in BASE.items() if k != "prompt"}
_TWO = [{"id": "a", "user": "Q {{ q }}"}, {"id": "b", "user": "R {{ q }}"}]
SUITE_KEYS["prompts"] = (_NO_PROMPT | {"prompts": _TWO[:1]}, _NO_PROMPT | {"prompts": _TWO})
_METRIC = _suite(**{"assert": [{"type": "contains", "value": "a", "metric": "m"}]})
SUITE_KEYS["derived_metrics"] = (_METRIC, _METRIC | {"derived_metrics": {"twice": "2 * m"}})
_NO_JUDGE = copy.deepcopy(BASE)
del _NO_JUDGE["cases"][0]["assert"][0]["provider"]
SUITE_KEYS["judge"] = (_NO_JUDGE | {"judge": "openai:a"}, _NO_JUDGE | {"judge": "openai:b"})
CASE_KEYS = {
    "id": (BASE, _case(id="e")),
    "description": (BASE, _case(description="why")),
    "vars": (BASE, _case(vars={"q": "z"})),
    "assert": (BASE, _case(**{"assert": []})),
    "threshold": (BASE, _case(threshold=0.5)),
    "transform": (BASE, _case(transform="output.strip()")),
    "metadata": (BASE, _case(metadata={"k": "v"})),
    "targets": (BASE, _case(targets=["openai:gpt-4o"])),
}
TARGET_KEYS = {
    "provider": (_target(), _target(provider="groq")),
    "model": (_target(), _target(model="gpt-4o")),
    "id": (_target(), _target(id="mine")),
    "base_url": (_target(), _target(base_url="http://127.0.0.1:9/v1")),
    "api_key_env": (_target(), _target(api_key_env="MY_KEY")),
    "options": (_target(), _target(options={"top_p": 0.5})),
    "temperatures": (_target(), _target(temperatures=[1.0])),
    "max_tokens": (_target(), _target(max_tokens=9)),
    "tools": (_target(), _target(tools=[{"name": "f", "input_schema": SCHEMA}])),
    "tool_choice": (_target(), _target(tool_choice="required")),
}
_VARIANTS = {k: v for k, v in _target().items() if k != "prompt"} | {"prompts": _TWO}
TARGET_KEYS["prompts"] = (_VARIANTS, copy.deepcopy(_VARIANTS))
TARGET_KEYS["prompts"][1]["targets"][0]["prompts"] = ["b"]

#: Documented as a note for readers of the file: nothing may change.
NOTES = {"description"}


def load(tmp_path: Path, data: dict[str, Any], name: str) -> tuple[Any, ...]:
    (tmp_path / "more.jsonl").write_text('{"id": "m", "vars": {"q": "w"}}\n')
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    suite = load_suite(path)
    return tuple(
        (cell.name, cell.suite.name, cell.request(), cell.fingerprint, repr(cell.assertions),
         cell.case.description, dict(cell.case.metadata), cell.case.threshold,
         cell.suite.threshold, repr(cell.suite.schema), cell.suite.derived_metrics,
         repr(parse_target(cell.target.id) if ":" in cell.target.id else cell.target.id),
         cell.target.settings())
        for cell in suite.cells()
    )


def _fields(model: Any) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def test_every_loader_key_has_a_case() -> None:
    assert set(SUITE_KEYS) | {"description"} == _fields(SuiteModel)
    assert set(CASE_KEYS) == _fields(CaseModel)
    target_keys = {"provider", "model", "id", "base_url", "api_key_env", "options", "prompts",
                   *TARGET_SETTINGS}
    assert set(TARGET_KEYS) == target_keys


@pytest.mark.parametrize(
    ("where", "key"),
    [("suite", k) for k in SUITE_KEYS] + [("case", k) for k in CASE_KEYS]
    + [("target", k) for k in TARGET_KEYS],
)
def test_each_loader_key_changes_the_cells(tmp_path: Path, where: str, key: str) -> None:
    table = {"suite": SUITE_KEYS, "case": CASE_KEYS, "target": TARGET_KEYS}[where]
    a, b = table[key]
    assert load(tmp_path, a, "a") != load(tmp_path, b, "b")


def test_every_loader_key_is_documented() -> None:
    text = (ROOT / "docs" / "suites.md").read_text("utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    tables = {s.splitlines()[0]: s for s in sections}
    documented = {
        title: set(re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.M))
        for title, body in tables.items()
    }
    assert documented["Suite keys"] == _fields(SuiteModel)
    assert documented["Case keys (inline, JSONL and YAML datasets)"] == _fields(CaseModel)
    assert documented["Target mapping keys"] == set(TARGET_KEYS)
    assert _fields(SuiteModel) >= NOTES


def test_promptfoo_table_share_matches_its_rows() -> None:
    text = (ROOT / "docs" / "promptfoo.md").read_text("utf-8")
    statuses = re.findall(r"^\| .+? \| (yes|workaround|no) \| .+ \|$", text, flags=re.M)
    n, yes = len(statuses), statuses.count("yes")
    stated = re.search(r"Of the (\d+) promptfoo features below, \*\*(\d+) \((\d+)%\)", text)
    assert stated is not None
    assert (int(stated[1]), int(stated[2]), int(stated[3])) == (n, yes, round(100 * yes / n))
