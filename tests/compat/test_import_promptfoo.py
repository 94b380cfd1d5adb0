"""``llm-harness import promptfoo``: three promptfoo-style configs become suites that collect
and run; what could not be converted is listed, never dropped silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.errors import SuiteError
from harness.suite.loader import load_suite

# promptfoo's "getting started" shape: two prompts, providers with config, defaultTest,
# JavaScript and Python assertions, a grader.
GETTING_STARTED = """\
description: Translate greetings
prompts:
  - "Translate to {{language}}: {{input}}"
  - "Please translate: {{input}} ({{language}})"
providers:
  - openai:gpt-4o-mini
  - id: anthropic:messages:claude-haiku-4-5
    label: claude
    config: {temperature: 0.2, max_tokens: 64, top_k: 5}
  - vertex:gemini-pro
defaultTest:
  vars: {tone: friendly}
  options:
    provider: openai:gpt-4o-mini
  assert:
    - type: not-icontains
      value: as an AI
tests:
  - description: French hello
    vars: {language: French, input: Hello}
    assert:
      - type: icontains
        value: bonjour
      - type: javascript
        value: output.length < 40
      - type: python
        value: "len(output) < 40"
      - type: llm-rubric
        value: is a greeting
  - vars: {language: German, input: Goodbye}
    assert:
      - type: contains
        value: Tschüss
        transform: output.toLowerCase()
      - type: latency
        threshold: 5000
outputPath: results.json
"""

# promptfoo's "csv-tests" shape.
CSV_CONFIG = """\
prompts: [file://prompt.txt]
providers: [openai:chat:gpt-4o-mini]
tests: file://tests.csv
"""
CSV_TESTS = "country,__expected\nFrance,icontains: paris\nPeru,contains: Lima\n"

# promptfoo's "json-output" shape: a chat prompt file and a schema as is-json's value.
JSON_CONFIG = """\
description: JSON output
prompts: [file://chat.json]
providers:
  - id: openai:gpt-4o-mini
    config:
      response_format: {type: json_object}
tests:
  - vars: {animal: cat}
    assert:
      - type: is-json
        value: {type: object, required: [name]}
      - type: javascript
        value: JSON.parse(output).legs === 4
"""
CHAT = '[{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Describe a {{animal}}."}]'


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder / "promptfooconfig.yaml"


def run_import(config: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["import", "promptfoo", str(config), "--out", str(out)]) == 0
    return capsys.readouterr().out


def test_getting_started_converts_and_lists_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "pf", {"promptfooconfig.yaml": GETTING_STARTED})
    out = run_import(config, tmp_path / "proj", capsys)
    suite_path = tmp_path / "proj" / "evals" / "translate-greetings.yaml"
    suite = load_suite(suite_path)
    assert [t.id for t in suite.targets] == ["openai:gpt-4o-mini", "claude"]
    # Two prompts compared: two variants, each run on every target.
    assert [p.id for p in suite.prompts] == ["p1", "p2"]
    assert suite.prompts[1].templates == (("user", "Please translate: {{input}} ({{language}})"),)
    claude = suite.targets[1]
    assert claude.temperatures == (0.2,) and claude.max_tokens == 64
    assert [c.id for c in suite.cases] == ["french-hello", "case-2"]
    assert suite.cases[0].vars["tone"] == "friendly"
    french = suite.cases[0]
    assert [a["type"] for a in french.assertions] == ["icontains", "expression", "llm-rubric"]
    assert french.assertions[2]["provider"] == "openai:gpt-4o-mini"  # defaultTest grader
    assert [a["type"] for a in suite.cases[1].assertions] == ["latency"]
    for words in (
        "providers[1]: config keys not converted: ['top_k']",
        "providers[2]: provider 'vertex:gemini-pro' has no equivalent",
        "tests[0].assert[1]: javascript assertion 'output.length < 40'",
        "tests[1].assert[0]: contains: its transform is JavaScript",
        "outputPath: no equivalent",
    ):
        assert words in out, out


def test_csv_tests_become_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path / "pf", {"promptfooconfig.yaml": CSV_CONFIG,
                                     "prompt.txt": "Capital of {{country}}?",
                                     "tests.csv": CSV_TESTS})
    out = run_import(config, tmp_path / "proj", capsys)
    assert "everything converted" in out
    suite = load_suite(tmp_path / "proj" / "evals" / "pf.yaml")
    assert [list(c.assertions) for c in suite.cases] == [
        [{"type": "icontains", "value": "paris"}], [{"type": "contains", "value": "Lima"}]
    ]


def test_json_output_and_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], port: Any
) -> None:
    config = write(tmp_path / "pf", {"promptfooconfig.yaml": JSON_CONFIG, "chat.json": CHAT})
    out = run_import(config, tmp_path / "proj", capsys)
    assert "config keys not converted: ['response_format']" in out
    assert "javascript assertion 'JSON.parse(output).legs === 4'" in out
    text = (tmp_path / "proj" / "evals" / "json-output.yaml").read_text()
    data = yaml.safe_load(text)
    assert data["messages"][0] == {"role": "system", "content": "Answer in JSON."}
    # The imported suite runs through the plugin on the simulator.
    run = port({"evals/json-output.yaml": text},
               {"default": {"canned": {"cat": {"name": "cat", "legs": 4}}}})
    assert [r["status"] for r in run.records] == ["passed"]


def test_a_promptfoo_config_given_as_a_suite_points_to_import(tmp_path: Path) -> None:
    config = write(tmp_path / "pf", {"promptfooconfig.yaml": CSV_CONFIG})
    with pytest.raises(SuiteError, match="llm-harness import promptfoo"):
        load_suite(config)


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "promptfoo", str(tmp_path / "none.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err
    (tmp_path / "list.yaml").write_text("- a\n")
    assert main(["import", "promptfoo", str(tmp_path / "list.yaml")]) == 2
    assert "not a promptfoo config" in capsys.readouterr().err


# promptfoo's "rag" / "text-to-sql" shapes: the types this importer maps since they were built.
NEWER_CONFIG = """\
description: Newer types
prompts:
  - {raw: "Context: {{context}} Q: {{query}}", label: terse}
  - {raw: "Answer from the context only. {{context}} {{query}}", label: strict}
providers: [openai:gpt-4o-mini]
defaultTest:
  options: {provider: anthropic:claude-haiku-4-5}
tests:
  - description: rag
    vars: {query: "Capital of France?", context: "Paris is the capital of France."}
    provider: anthropic:messages:claude-haiku-4-5
    assert:
      - {type: context-faithfulness, threshold: 0.8}
      - {type: context-recall, value: Paris is the capital, threshold: 1}
      - {type: answer-relevance, threshold: 0.5, contextTransform: output.context}
      - type: assert-set
        threshold: 0.5
        metric: style
        assert:
          - {type: rouge-n, value: Paris is the capital}
          - {type: bleu, value: Paris is the capital, threshold: 0.3}
      - type: assert-set
        assert:
          - {type: icontains, value: paris}
          - {type: javascript, value: output.length < 9}
  - description: sql
    vars: {query: "All users", context: "-"}
    assert:
      - type: is-sql
        value: {databaseType: MySQL, allowedTables: ["select::null::users"]}
      - type: is-xml
        value: {requiredElements: [a.b]}
"""


def test_newer_types_assert_sets_variants_and_per_test_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sqlglot")
    config = write(tmp_path / "pf", {"promptfooconfig.yaml": NEWER_CONFIG})
    out = run_import(config, tmp_path / "proj", capsys)
    suite = load_suite(tmp_path / "proj" / "evals" / "newer-types.yaml")
    assert [p.id for p in suite.prompts] == ["terse", "strict"]
    rag, sql = suite.cases
    assert rag.targets == ("anthropic:claude-haiku-4-5",)
    assert [c.target.id for c in suite.cells() if c.case.id == "rag"] == [
        "anthropic:claude-haiku-4-5"] * 2  # one per prompt variant, on the case's target alone
    assert [a["type"] for a in rag.assertions] == [
        "context-faithfulness", "context-recall", "assert-set"]
    assert rag.assertions[0]["provider"] == "anthropic:claude-haiku-4-5"  # the grader
    group = rag.assertions[2]
    assert group["threshold"] == 0.5 and group["metric"] == "style"
    assert [a["type"] for a in group["assert"]] == ["rouge-n", "bleu"]
    assert list(sql.assertions) == [
        {"type": "is-sql", "dialect": "MySQL", "tables": ["users"]},
        {"type": "is-xml", "value": ["a.b"]},
    ]
    for words in (
        "tests[0].assert[2]: answer-relevance: keys ['contextTransform'] have no equivalent",
        "tests[0].assert[4].assert[1]: javascript assertion",
        "tests[0].assert[4]: assert-set: not converted, as not every assertion in it was",
    ):
        assert words in out, out
