"""Loader: transforms, the suite judge, file vars, CSV __ columns, tool forms, promptfoo
configs, and the keys a suite or assertion may not silently ignore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import SuiteError
from harness.suite.inputs import InputProblem, expected_assertion
from harness.suite.loader import load_suite

HEAD = """\
name: s
targets: [openai:gpt-4o-mini]
prompt: {user: "Q: {{ q }}"}
"""

KNOWN = {"contains", "icontains", "equals", "is-json", "similar", "llm-rubric", "expression",
         "python", "contains-any", "regex"}


def suite(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body)
    return path


def error(tmp_path: Path, body: str) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(suite(tmp_path, body))
    return info.value


def test_transforms_fold_suite_case_and_own_in_order(tmp_path: Path) -> None:
    s = load_suite(suite(tmp_path, """\
transform: output.strip()
assert: [{type: contains, value: a}]
cases:
  - vars: {q: x}
    transform: json.answer
    assert: [{type: equals, value: b, transform: output.upper()}]
"""))
    cell = s.cells()[0]
    assert [a["transform"] for a in cell.assertions] == [
        ["output.strip()", "json.answer"],
        ["output.strip()", "json.answer", "output.upper()"],
    ]


def test_transforms_change_the_fingerprint(tmp_path: Path) -> None:
    plain = load_suite(suite(tmp_path, "cases: [{vars: {q: x}, assert: [{type: is-json}]}]\n"))
    shaped = load_suite(suite(tmp_path, "transform: json.a\n"
                              "cases: [{vars: {q: x}, assert: [{type: is-json}]}]\n", "t.yaml"))
    assert plain.cells()[0].fingerprint != shaped.cells()[0].fingerprint


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("transform: 'json.'\ncases: [{vars: {q: x}}]\n", "not a Python expression"),
        ("cases: [{vars: {q: x}, transform: 'x.__class__'}]\n", "'__class__' is not allowed"),
        ("cases: [{vars: {q: x}, assert: [{type: contains, value: a, provider: 'openai:x'}]}]\n",
         "unknown key 'provider'"),
        ("cases: [{vars: {q: x}, assert: [{type: llm-rubric, value: polite}]}]\n",
         "a suite-level judge:, or --llm-judge"),
        ("judge: nope\ncases: [{vars: {q: x}}]\n", "judge:"),
    ],
)
def test_refused(tmp_path: Path, body: str, words: str) -> None:
    err = error(tmp_path, body)
    assert words in str(err)


def test_suite_judge_fills_model_graded_assertions_only(tmp_path: Path) -> None:
    s = load_suite(suite(tmp_path, """\
judge: anthropic:claude-haiku-4-5
assert: [{type: llm-rubric, value: polite}]
cases:
  - vars: {q: x}
    assert:
      - {type: not-llm-rubric, value: rude}
      - {type: llm-rubric, value: short, provider: "openai:gpt-4o-mini"}
      - {type: contains, value: a}
"""))
    specs = s.cells()[0].assertions
    assert [sp.get("provider") for sp in specs] == [
        "anthropic:claude-haiku-4-5", "anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", None
    ]


def test_file_vars_read_text_json_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "doc.txt").write_text("long text")
    (tmp_path / "data" / "rec.json").write_text('{"a": [1, 2]}')
    (tmp_path / "data" / "rec.yaml").write_text("b: yes\n")
    s = load_suite(suite(tmp_path, """\
cases:
  - vars: {q: "file://data/doc.txt", j: "file:data/rec.json", y: "file://data/rec.yaml"}
"""))
    case = s.cases[0]
    assert dict(case.vars) == {"q": "long text", "j": {"a": [1, 2]}, "y": {"b": True}}
    assert s.cells()[0].messages[0].content == "Q: long text"
    # A cached parse must notice an edit: the files are sources of the suite.
    assert {p.name for p in s.sources} >= {"doc.txt", "rec.json", "rec.yaml"}


def test_file_glob_makes_one_case_per_file(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for name in ("b", "a"):
        (tmp_path / "docs" / f"{name}.md").write_text(f"text {name}")
    s = load_suite(suite(tmp_path, "cases: [{id: doc, vars: {q: 'file://docs/*.md'}}]\n"))
    assert [(c.id, c.vars["q"]) for c in s.cases] == [("doc-a", "text a"), ("doc-b", "text b")]


def test_missing_file_var_is_an_error_naming_it(tmp_path: Path) -> None:
    err = error(tmp_path, "cases: [{id: c, vars: {q: 'file://nope.txt'}}]\n")
    assert "file not found" in str(err) and "nope.txt" in str(err)
    err = error(tmp_path, "cases: [{id: c, vars: {q: 'file://none/*.txt'}}]\n")
    assert "no file matches" in str(err)


def test_csv_conventions(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text(
        "q,__expected,__expected2,__description,__threshold,__metadata:topic\n"
        'x,contains: Paris,not-icontains:as an AI,capital question,0.5,geo\n'
        "y,Lima,,,,\n"
        'z,"similar(0.8):the sky is blue",,,,\n'
    )
    s = load_suite(suite(tmp_path, "dataset: rows.csv\n"))
    first, second, third = s.cases
    assert list(first.assertions) == [
        {"type": "contains", "value": "Paris"}, {"type": "not-icontains", "value": "as an AI"}
    ]
    assert first.description == "capital question" and first.threshold == 0.5
    assert dict(first.metadata) == {"topic": "geo"} and dict(first.vars) == {"q": "x"}
    assert list(second.assertions) == [{"type": "equals", "value": "Lima"}]
    assert list(third.assertions) == [
        {"type": "similar", "value": "the sky is blue", "threshold": 0.8}
    ]


def test_csv_unknown_dunder_column_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("q,__expectd\nx,Paris\n")
    with pytest.raises(SuiteError) as info:
        load_suite(suite(tmp_path, "dataset: rows.csv\n"))
    assert "unknown column '__expectd'" in str(info.value) and ":2" in str(info.value)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("Paris", {"type": "equals", "value": "Paris"}),
        ("is-json", {"type": "is-json"}),
        ("contains-any: a, b", {"type": "contains-any", "value": ["a", "b"]}),
        ("grader: is polite", {"type": "llm-rubric", "value": "is polite"}),
        ("python: len(output) < 9", {"type": "expression", "value": "len(output) < 9"}),
        ("python:checks.py:ok", {"type": "python", "value": "checks.py:ok"}),
        ("Note: not a type", {"type": "equals", "value": "Note: not a type"}),
    ],
)
def test_expected_forms(text: str, spec: dict[str, object]) -> None:
    assert expected_assertion(text, KNOWN) == spec


def test_expected_javascript_is_refused_with_the_expression_form() -> None:
    with pytest.raises(InputProblem) as info:
        expected_assertion("javascript: output.length < 9", KNOWN)
    assert "expression:" in info.value.fix
    with pytest.raises(InputProblem):
        expected_assertion("containz: x", KNOWN)


def test_tools_in_anthropic_form_keep_their_schema(tmp_path: Path) -> None:
    params = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    (tmp_path / "tools.json").write_text(json.dumps([
        {"name": "get_weather", "description": "Weather", "input_schema": params},
    ]))
    inline = load_suite(suite(tmp_path, f"tools: [{json.dumps({'name': 'w', 'input_schema': params})}]\n"
                              "cases: [{vars: {q: x}}]\n"))
    assert inline.tools[0].parameters == params
    from_file = load_suite(suite(tmp_path, "tools: tools.json\ncases: [{vars: {q: x}}]\n", "f.yaml"))
    assert from_file.tools[0].name == "get_weather" and from_file.tools[0].parameters == params
    assert any(p.name == "tools.json" for p in from_file.sources)


def test_tool_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, "tools: [{name: w, input_schema: {type: object}, strict: true}]\n"
                "cases: [{vars: {q: x}}]\n")
    assert "a tool must be" in str(err)


def test_promptfoo_config_points_to_import(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text("prompts: ['Q: {{q}}']\nproviders: [openai:gpt-4o-mini]\ntests: []\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert "promptfoo config" in str(info.value)
    assert "llm-harness import promptfoo" in str(info.value) and ":2" in str(info.value)


def test_per_target_settings_override_the_suite(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("""\
name: s
targets:
  - openai:gpt-4o-mini
  - {provider: openai, model: gpt-4o-mini, max_tokens: 40, temperatures: [0.0, 1.0],
     tools: [{name: lookup, input_schema: {type: object}}], tool_choice: required}
  - {provider: anthropic, model: claude-haiku-4-5, id: claude, temperatures: [null]}
temperatures: [0.5]
max_tokens: 300
prompt: {user: "Q: {{ q }}"}
cases: [{id: c, vars: {q: x}}]
""")
    s = load_suite(path)
    cells = {c.name: c for c in s.cells()}
    assert sorted(cells) == [
        "c[claude-tdefault-r0]",
        "c[openai:gpt-4o-mini(max_tokens=40,tools=1,tool_choice=required)-t0-r0]",
        "c[openai:gpt-4o-mini(max_tokens=40,tools=1,tool_choice=required)-t1-r0]",
        "c[openai:gpt-4o-mini-t0.5-r0]",
    ]
    plain = cells["c[openai:gpt-4o-mini-t0.5-r0]"].request()
    tuned = cells["c[openai:gpt-4o-mini(max_tokens=40,tools=1,tool_choice=required)-t1-r0]"]
    assert (plain.max_tokens, plain.tools, plain.tool_choice) == (300, (), None)
    request = tuned.request()
    assert request.max_tokens == 40 and request.temperature == 1.0
    assert [t.name for t in request.tools] == ["lookup"] and request.tool_choice == "required"
    assert tuned.fingerprint != cells["c[openai:gpt-4o-mini-t0.5-r0]"].fingerprint


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("{provider: openai, model: m, max_tokens: 0}", "max_tokens"),
        ("{provider: openai, model: m, max_tokns: 5}", "may also set temperatures"),
        ("{provider: openai, model: m, tools: [{nam: x}]}", "a tool must be"),
        ("{provider: openai, model: m, temperatures: []}", "temperatures"),
    ],
)
def test_bad_per_target_settings(tmp_path: Path, target: str, words: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(f"targets: [{target}]\nprompt: {{user: hi}}\ncases: [{{id: c}}]\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert words in str(info.value) and ":1" in str(info.value)


def test_suite_vars_are_under_every_case_and_may_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "style.txt").write_text("be brief")
    s = load_suite(suite(tmp_path, """\
vars: {style: "file://style.txt", lang: en}
cases: [{id: a, vars: {q: x}}, {id: b, vars: {q: y, lang: fr}}]
"""))
    assert [dict(c.vars) for c in s.cases] == [
        {"style": "be brief", "lang": "en", "q": "x"},
        {"style": "be brief", "lang": "fr", "q": "y"},
    ]
    (tmp_path / "other.txt").write_text("x")
    err = error(tmp_path, "vars: {q: 'file://*.txt'}\ncases: [{id: a}]\n")
    assert "would multiply every case" in str(err)


def test_prompt_templates_from_files(tmp_path: Path) -> None:
    (tmp_path / "user.txt").write_text("Question: {{ q }}")
    path = tmp_path / "p.yaml"
    path.write_text("targets: [openai:gpt-4o-mini]\n"
                    "prompt: {system: plain, user: 'file://user.txt'}\n"
                    "cases: [{id: a, vars: {q: why}}]\n")
    s = load_suite(path)
    assert [m.content for m in s.cells()[0].messages] == ["plain", "Question: why"]
    assert any(p.name == "user.txt" for p in s.sources)
    path.write_text("targets: [openai:gpt-4o-mini]\nprompt: {user: 'file://none.txt'}\n"
                    "cases: [{id: a}]\n")
    with pytest.raises(SuiteError, match="prompt file not found"):
        load_suite(path)


def test_derived_metrics_must_use_the_suites_metrics(tmp_path: Path) -> None:
    ok = load_suite(suite(tmp_path, """\
assert: [{type: contains, value: a, metric: tp}, {type: contains, value: b, metric: fp}]
derived_metrics: {p: "tp / (tp + fp)", q: "1 - p"}
cases: [{id: c, vars: {q: x}}]
"""))
    assert ok.derived_metrics == (("p", "tp / (tp + fp)"), ("q", "1 - p"))
    err = error(tmp_path, """\
assert: [{type: contains, value: a, metric: tp}]
derived_metrics: {p: "tp / (tp + fpp)"}
cases: [{id: c, vars: {q: x}}]
""")
    assert "uses ['fpp']" in str(err) and "['tp']" in str(err)


def test_json_list_dataset(tmp_path: Path) -> None:
    (tmp_path / "rows.json").write_text('[{"id": "j1", "vars": {"q": "x"}},\n {"id": 2, "vars": {"q": "y"}}]')
    s = load_suite(suite(tmp_path, "dataset: rows.json\n"))
    assert [c.id for c in s.cases] == ["j1", "2"]
    (tmp_path / "bad.json").write_text('{"id": "j1"}')
    with pytest.raises(SuiteError, match="a JSON dataset must be a list"):
        load_suite(suite(tmp_path, "dataset: bad.json\n", "b.yaml"))
