"""promptfoo example configs, rewritten (small invented data) and run through the plugin.

Each test names the promptfoo example it ports and checks what the port must show: that
the assertions it uses run (a wrong answer fails them) and their results are recorded.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from compatkit import Run, scores

pytest.importorskip("openai")
pytest.importorskip("anthropic")

HEAD = "targets: [openai:gpt-4o-mini]\ntemperatures: [0.0]\nmax_tokens: 200\n"


def outcomes(run: Run) -> dict[str, str]:
    return {r["case_id"]: r["status"] for r in run.records}


# 1. promptfoo "json-output": is-json with a schema as value, JS assertions on fields.
def test_json_output(port: Any) -> None:
    suite = HEAD + """\
name: json-output
prompt: {user: "Describe {{ animal }} as JSON with name, legs and colors."}
assert:
  - type: is-json
    value: {type: object, required: [name, legs, colors]}
  - {type: expression, value: "json.legs >= 0 and isinstance(json.colors, list)"}
cases:
  - {id: cat, vars: {animal: cat}, assert: [{type: json-path, path: $.legs, equals: 4}]}
  - {id: bird, vars: {animal: bird}, assert: [{type: json-path, path: $.legs, equals: 2}]}
  - {id: snake, vars: {animal: snake}}
"""
    sim = {"default": {"canned": {
        "cat": {"name": "cat", "legs": 4, "colors": ["grey"]},
        "bird": {"name": "bird", "legs": 4, "colors": ["red"]},  # wrong leg count
        "snake": {"name": "snake", "colors": ["green"]},  # misses a required key
    }}}
    run = port({"evals/animals.yaml": suite}, sim)
    assert outcomes(run) == {"cat": "passed", "bird": "failed", "snake": "failed"}
    snake = next(r for r in run.records if r["case_id"] == "snake")
    assert "'legs' is a required property" in scores(snake)["is-json"]["reason"]
    run.result.stdout.fnmatch_lines(["*json-path: $.legs = 4: expected 2*"])


# 2. promptfoo "csv-tests" (tests: file://tests.csv with __expected columns).
def test_csv_tests(port: Any) -> None:
    suite = HEAD + """\
name: capitals
prompt: {user: "What is the capital of {{ country }}?"}
dataset: ../datasets/capitals.csv
"""
    csv = (
        "country,__expected,__expected2,__description,__metadata:region\n"
        "France,icontains: paris,not-icontains: as an AI,easy one,europe\n"
        "Peru,\"contains-any: Lima, lima\",,,americas\n"
        "Japan,Tokyo,,exact answer,asia\n"
    )
    sim = {"default": {"canned": {"France": "Paris.", "Peru": "I think it is Cusco.",
                                  "Japan": "Tokyo"}}}
    run = port({"evals/capitals.yaml": suite, "datasets/capitals.csv": csv}, sim)
    assert outcomes(run) == {"case-1": "passed", "case-2": "failed", "case-3": "passed"}
    france = next(r for r in run.records if r["case_id"] == "case-1")
    assert france["description"] == "easy one" and france["metadata"] == {"region": "europe"}
    assert [s["name"] for s in france["scores"]] == ["icontains", "not-icontains"]


# 3. promptfoo "gpt-4o-temperature-comparison": the same model at two temperatures, and a
#    per-provider config (max_tokens) on one of them.
def test_temperature_comparison(port: Any) -> None:
    suite = """\
name: temps
targets:
  - {provider: openai, model: gpt-4o-mini, id: cold, temperatures: [0.0]}
  - {provider: openai, model: gpt-4o-mini, id: hot, temperatures: [1.0], max_tokens: 3}
prompt: {user: "Write a line about {{ topic }}."}
assert: [{type: length, min: 5, unit: chars}, {type: finish-reason, value: stop}]
cases: [{id: sea, vars: {topic: the sea}}]
"""
    sim = {"default": {"canned": {"sea": "The sea is wide and deep and blue today."}}}
    run = port({"evals/temps.yaml": suite}, sim)
    assert run.status() == {("sea", "cold"): "passed", ("sea", "hot"): "failed"}
    hot = next(r for r in run.records if r["target"] == "hot")
    assert hot["temperature"] == 1.0 and hot["finish_reason"] == "length"


# 4. promptfoo "function-calling" / "tool-use": tools in Anthropic form, checked as calls.
def test_tool_calls_in_anthropic_form(port: Any) -> None:
    suite = """\
name: weather-tools
targets: [openai:gpt-4o-mini, anthropic:claude-haiku-4-5]
temperatures: [null]
max_tokens: 200
tools:
  - name: get_weather
    description: Current weather for a city
    input_schema:
      type: object
      properties: {city: {type: string}, unit: {type: string, enum: [c, f]}}
      required: [city, unit]
prompt: {user: "What's the weather in {{ city }}?"}
assert:
  - type: tool-call
    name: get_weather
    schema: {type: object, required: [city, unit]}
  - {type: is-json, transform: "tool_calls[0].arguments"}
  - {type: json-path, transform: "tool_calls[0].arguments", path: $.unit, kind: string}
cases: [{id: paris, vars: {city: Paris}}]
"""
    run = port({"evals/weather.yaml": suite}, {"default": {"answer": "tool"}})
    assert {r["target"]: r["status"] for r in run.records} == {
        "openai:gpt-4o-mini": "passed", "anthropic:claude-haiku-4-5": "passed"
    }
    for r in run.records:
        # Arguments generated from the schema we sent: the parameters reached the wire.
        assert set(r["tool_calls"][0]["arguments"]) >= {"city", "unit"}


# 5. promptfoo "structured-outputs-config": a JSON schema sent natively, fields checked.
def test_structured_outputs(port: Any) -> None:
    suite = HEAD + """\
name: structured
structured: native
schema:
  type: object
  properties:
    steps: {type: array, items: {type: string}, minItems: 2, maxItems: 4}
    answer: {type: integer, minimum: 0, maximum: 100}
  required: [steps, answer]
  additionalProperties: false
prompt: {user: "Solve {{ problem }} step by step."}
assert:
  - type: schema-valid
  - {type: json-path, path: "$.steps", kind: array}
  - {type: json-path, path: "$.answer", gte: 0, lte: 100}
  - {type: expression, value: "len(json.steps) >= 2"}
cases: [{id: sum, vars: {problem: 2+2}}, {id: product, vars: {problem: 3*4}}]
"""
    run = port({"evals/structured.yaml": suite}, {"seed": 5, "default": {}})
    assert outcomes(run) == {"sum": "passed", "product": "passed"}
    assert all(r["schema_valid"] for r in run.records)


# 6. promptfoo "claude-vs-gpt" with a default grader (defaultTest.options.provider).
def test_claude_vs_gpt_with_a_suite_judge(port: Any) -> None:
    suite = """\
name: riddles
targets: [openai:gpt-4o-mini, anthropic:claude-haiku-4-5]
temperatures: [null]
max_tokens: 200
judge: openai:gpt-4o-mini
prompt: {user: "Answer the riddle: {{ riddle }}"}
assert:
  - {type: llm-rubric, value: "gives a single short answer", metric: brevity}
cases:
  - {id: keys, vars: {riddle: "What has keys but no locks?"}}
"""
    sim = {"default": {"canned": {
        "riddle": "A piano.",
        "gives a single short answer": {"pass": True, "score": 0.9, "reason": "short"},
    }}}
    run = port({"evals/riddles.yaml": suite}, sim)
    assert {r["target"]: r["status"] for r in run.records} == {
        "openai:gpt-4o-mini": "passed", "anthropic:claude-haiku-4-5": "passed"
    }
    for r in run.records:
        rubric = scores(r)["llm-rubric"]
        assert rubric["value"] == 0.9 and rubric["metric"] == "brevity"
    assert {g["target"]: g["metrics"]["brevity"]["passed"] for g in run.summary} == {
        "openai:gpt-4o-mini": 1, "anthropic:claude-haiku-4-5": 1
    }


# 7. promptfoo "model-graded" examples: factuality and closedqa against references.
def test_factuality_and_closedqa(port: Any) -> None:
    suite = HEAD + """\
name: facts
judge: anthropic:claude-haiku-4-5
prompt: {user: "When did {{ event }} happen?"}
cases:
  - id: moon
    vars: {event: the first moon landing}
    assert:
      - {type: factuality, value: "It happened in July 1969."}
      - {type: model-graded-closedqa, value: "names a year"}
  - id: wall
    vars: {event: the fall of the Berlin Wall}
    assert: [{type: factuality, value: "It fell in November 1989."}]
"""
    sim = {"models": {
        "gpt-4o-mini": {"canned": {"moon": "In 1969.", "Berlin": "In 1991."}},
        "claude-*": {"canned": {
            "July 1969": {"pass": True, "score": 1, "reason": "consistent"},
            "names a year": {"pass": True, "score": 1, "reason": "1969"},
            "November 1989": {"pass": False, "score": 0, "reason": "1991 is not 1989"},
        }},
    }}
    run = port({"evals/facts.yaml": suite}, sim)
    assert outcomes(run) == {"moon": "passed", "wall": "failed"}
    run.result.stdout.fnmatch_lines(
        ["*factuality: [[]It fell in November 1989.] judge anthropic:claude-haiku-4-5: 1991*"]
    )


# 8. promptfoo "f-score": per-case outcomes as named metrics, precision/recall/F1 derived.
def test_named_and_derived_metrics_classification(port: Any) -> None:
    suite = HEAD + """\
name: sentiment
prompt: {user: "Sentiment of: {{ text }}. Answer positive or negative."}
assert:
  - {type: expression, value: "output.strip() == vars.label", metric: accuracy}
  - {type: expression, weight: 0, metric: tp,
     value: "output.strip() == 'positive' and vars.label == 'positive'"}
  - {type: expression, weight: 0, metric: fp,
     value: "output.strip() == 'positive' and vars.label == 'negative'"}
  - {type: expression, weight: 0, metric: fn,
     value: "output.strip() == 'negative' and vars.label == 'positive'"}
derived_metrics:
  precision: tp / (tp + fp)
  recall: tp / (tp + fn)
  f1: 2 * precision * recall / (precision + recall)
cases:
  - {id: a, vars: {text: "great film", label: positive}}
  - {id: b, vars: {text: "boring plot", label: negative}}
  - {id: c, vars: {text: "loved it", label: positive}}
  - {id: d, vars: {text: "awful", label: negative}}
  - {id: e, vars: {text: "meh", label: negative}}
"""
    sim = {"default": {"canned": {"great": "positive", "boring": "negative",
                                  "loved": "negative", "awful": "negative",
                                  "meh": "positive"}}}
    run = port({"evals/sentiment.yaml": suite}, sim)
    metrics = run.summary[0]["metrics"]
    assert metrics["accuracy"] == {"passed": 3, "total": 5, "pass_rate": 0.6, "mean": 0.6}
    # tp = 1 (a), fp = 1 (e), fn = 1 (c): precision = recall = f1 = 0.5.
    for name in ("precision", "recall", "f1"):
        assert metrics[name]["derived"] == pytest.approx(0.5), metrics[name]
    run.result.stdout.fnmatch_lines(["*llm-harness metrics*", "*accuracy 3/5 (60%)*f1 0.5*"])
    # Weight-0 checks are information: a cell failing only those passes.
    assert outcomes(run) == {"a": "passed", "b": "passed", "c": "failed", "d": "passed",
                             "e": "failed"}


# 9. promptfoo "summarization": documents from files, length and refusal checks.
def test_summarization_from_files(port: Any) -> None:
    suite = HEAD + """\
name: summaries
prompt: {user: "Summarize in one sentence: {{ doc }}"}
assert:
  - {type: length, max: 12, unit: words}
  - {type: not-icontains-any, value: ["as an AI", "I cannot"]}
cases: [{id: doc, vars: {doc: "file://../docs/*.txt"}}]
"""
    files = {
        "evals/summaries.yaml": suite,
        "docs/alpha.txt": "Alpha report: sales rose in spring.",
        "docs/beta.txt": "Beta report: costs fell in autumn.",
    }
    sim = {"default": {"canned": {"Alpha": "Sales rose in spring.",
                                  "Beta": "As an AI I cannot summarize this."}}}
    run = port(files, sim)
    assert outcomes(run) == {"doc-alpha": "passed", "doc-beta": "failed"}
    alpha = next(r for r in run.records if r["case_id"] == "doc-alpha")
    assert "sales rose in spring" in alpha["prompt"][-1]["content"]
    run.result.stdout.fnmatch_lines(["*not-icontains-any: found 'as an AI', 'I cannot'*"])


# 10. promptfoo "transform" examples: options.transform and per-assertion transforms.
def test_transforms(port: Any) -> None:
    suite = HEAD + """\
name: palettes
prompt: {user: "List colors of {{ thing }} as JSON {\\"colors\\": [...], \\"note\\": ...}"}
transform: json.colors
assert:
  - {type: contains, value: blue}
  - {type: expression, value: "len(json) <= 3"}
cases:
  - {id: sky, vars: {thing: sky}}
  - {id: grass, vars: {thing: grass}}
"""
    sim = {"default": {"canned": {
        "sky": {"colors": ["blue", "grey"], "note": "x"},
        # "blue" only in the note: the raw answer contains it, the transformed one not.
        "grass": {"colors": ["green"], "note": "never blue"},
    }}}
    run = port({"evals/palettes.yaml": suite}, sim)
    assert outcomes(run) == {"sky": "passed", "grass": "failed"}
    grass = next(r for r in run.records if r["case_id"] == "grass")
    assert json.loads(grass["output"])["note"] == "never blue"  # the record keeps the raw answer


# 11. A text assertion on a tool-call answer is a clear failure, not a check of ''.
def test_text_assertion_on_a_tool_call_fails_clearly(port: Any) -> None:
    suite = HEAD + """\
name: toolish
tools: [{type: function, function: {name: lookup, parameters: {type: object}}}]
prompt: {user: "Look up {{ q }}"}
assert: [{type: not-contains, value: error}]
cases: [{id: q1, vars: {q: x}}]
"""
    run = port({"evals/toolish.yaml": suite}, {"default": {"answer": "tool"}})
    assert outcomes(run) == {"q1": "failed"}
    run.result.stdout.fnmatch_lines(["*the answer is only a tool call (lookup)*"])


# 12. Keys promptfoo users write that would otherwise be ignored: a collection error each.
@pytest.mark.parametrize(
    ("assertion", "words"),
    [
        ("{type: contains, value: x, provider: 'openai:gpt-4o'}", "unknown key 'provider'"),
        ("{type: contains, value: x, transform: 'output.'}", "'transform' not a Python"),
        ("{type: latency, max_ms: 10, threshold: 5}", "unknown key 'threshold'"),
    ],
)
def test_ignored_keys_are_collection_errors(port: Any, assertion: str, words: str) -> None:
    suite = HEAD + f"""\
name: strict
prompt: {{user: "hi {{{{ q }}}}"}}
cases: [{{id: c, vars: {{q: x}}, assert: [{assertion}]}}]
"""
    run = port({"evals/strict.yaml": suite}, {"default": {}})
    assert run.result.ret == 2  # interrupted by a collection error
    run.result.stdout.fnmatch_lines([f"*{words}*"])
    assert run.records == []


# 13. promptfoo's "echo" provider: grading answers stored in a dataset, no model called.
def test_echo_grades_stored_outputs(port: Any) -> None:
    suite = """\
name: stored
targets: [echo:stored]
temperatures: [null]
prompt: {user: "{{ answer }}"}
assert:
  - {type: icontains, value: refund}
  - {type: length, max: 12, unit: words}
dataset: ../datasets/answers.jsonl
"""
    rows = [
        {"id": "good", "vars": {"answer": "We will refund you today."}},
        {"id": "bad", "vars": {"answer": "Please call our office during opening hours."}},
    ]
    files = {"evals/stored.yaml": suite,
             "datasets/answers.jsonl": "".join(json.dumps(r) + "\n" for r in rows)}
    run = port(files, {"default": {}})
    assert outcomes(run) == {"good": "passed", "bad": "failed"}
    good = next(r for r in run.records if r["case_id"] == "good")
    assert good["output"] == "We will refund you today." and good["cost_usd"] == 0
    assert good["provider"] == "echo"


def test_echo_refuses_tools(port: Any) -> None:
    suite = """\
name: echo-tools
targets: [echo:x]
temperatures: [null]
tools: [{name: f, input_schema: {type: object}}]
prompt: {user: "{{ q }}"}
cases: [{id: c, vars: {q: hi}}]
"""
    run = port({"evals/echo-tools.yaml": suite}, {"default": {}})
    (record,) = run.records
    assert record["status"] == "skipped" and "cannot call tools" in record["skip_reason"]


# 14. promptfoo "azure-openai": a deployment through the openai SDK's Azure client, beside
#     OpenAI itself; the simulator serves the Azure route and checks the api-key header.
def test_azure_deployment_beside_openai(port: Any) -> None:
    suite = HEAD.replace("[openai:gpt-4o-mini]", "[openai:gpt-4o-mini, azure:my-gpt4o-mini]") + """\
name: azure
prompt: {user: "Capital of {{ country }}?"}
assert: [{type: icontains, value: paris}]
cases: [{id: fr, vars: {country: France}}]
"""
    sim = {"require_key": "sk-sim", "default": {"canned": {"France": "Paris"}}}
    run = port({"evals/azure.yaml": suite}, sim)
    assert run.status() == {("fr", "openai:gpt-4o-mini"): "passed",
                            ("fr", "azure:my-gpt4o-mini"): "passed"}
    azure = next(r for r in run.records if r["provider"] == "azure")
    assert azure["model"] == "my-gpt4o-mini" and azure["output"] == "Paris"
    assert azure["cost_usd"] is None  # Azure prices per deployment: unpriced, never 0
