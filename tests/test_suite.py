"""Suite loading: the reference shape, matrix expansion, and one clear error per bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import SuiteError
from harness.suite.loader import load_suite

REFERENCE = """\
name: invoice-extraction
targets: [openai:gpt-4o-mini, anthropic:claude-haiku-4-5, groq:llama-3.1-8b-instant, mistral:mistral-small-latest]
temperatures: [0.0, 0.7]
repeat: 2
max_tokens: 300
timeout_s: 30
prompt:
  system: You extract invoice fields as JSON.
  user: "Invoice text: {{ text }}"
schema: ../datasets/invoice.schema.json
dataset: ../datasets/invoices.jsonl
assert:
  - type: schema-valid
  - type: latency
    max_ms: 5000
cases:
  - id: acme-1
    vars: {text: "ACME Corp invoice #42, total 99.50 EUR"}
    assert:
      - {type: contains, value: ACME}
"""

SCHEMA = {
    "type": "object",
    "properties": {"vendor": {"type": "string"}, "total": {"type": "number"}},
    "required": ["vendor", "total"],
}


def write_project(root: Path, suite: str = REFERENCE, rows: list[dict] | None = None) -> Path:
    (root / "evals").mkdir(exist_ok=True)
    (root / "datasets").mkdir(exist_ok=True)
    (root / "datasets" / "invoice.schema.json").write_text(json.dumps(SCHEMA))
    rows = (
        rows
        if rows is not None
        else [
            {
                "id": "bolt-7",
                "vars": {"text": "Bolt GmbH invoice 7, total 12 EUR"},
                "assert": [{"type": "contains", "value": "Bolt"}],
            },
        ]
    )
    (root / "datasets" / "invoices.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = root / "evals" / "invoices.yaml"
    path.write_text(suite)
    return path


def test_reference_suite_expands_case_target_temperature_repeat(tmp_path: Path) -> None:
    suite = load_suite(write_project(tmp_path))
    cells = suite.cells()
    assert len(cells) == 2 * 4 * 2 * 2
    assert cells[0].name == "acme-1[openai:gpt-4o-mini-t0-r0]"
    assert cells[3].name == "acme-1[openai:gpt-4o-mini-t0.7-r1]"
    request = cells[0].request()
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.messages[1].content == "Invoice text: ACME Corp invoice #42, total 99.50 EUR"
    assert request.max_tokens == 300 and request.timeout_s == 30
    assert suite.schema == SCHEMA
    # case assertions merge after the suite's
    bolt = next(c for c in cells if c.case.id == "bolt-7")
    assert bolt.case.assertions[0]["value"] == "Bolt"


def test_target_filter_and_repeat_override(tmp_path: Path) -> None:
    suite = load_suite(write_project(tmp_path))
    cells = suite.cells(("openai:*", "mistral:*"), repeat=1)
    assert {c.target.provider for c in cells} == {"openai", "mistral"}
    assert len(cells) == 2 * 2 * 2 * 1


def test_fingerprint_tracks_rendered_prompt(tmp_path: Path) -> None:
    a = load_suite(write_project(tmp_path)).cells()[0].fingerprint
    changed = REFERENCE.replace("You extract invoice fields", "You extract fields")
    b = load_suite(write_project(tmp_path, changed)).cells()[0].fingerprint
    assert a != b


def test_a_cell_pickled_for_the_worker_is_the_same_cell(
    tmp_path: Path,
) -> None:
    import pickle

    cells = load_suite(write_project(tmp_path)).cells()
    cell = cells[5]
    expected = (cell.name, cell.fingerprint, cell.test_fingerprint, cell.request())
    back = pickle.loads(pickle.dumps(cells, protocol=pickle.HIGHEST_PROTOCOL))[5]
    # The cached values are recomputed on the other side, equal.
    assert (back.name, back.fingerprint, back.test_fingerprint, back.request()) == expected
    assert back.case == cell.case and back.variant == cell.variant
    # Cases are slotted: no instance dict for pickle to build on each of them.
    assert not hasattr(cell.case, "__dict__")
    # The suite travels without its cases (each cell carries its own, so the worker frees a
    # case with its last cell); everything else about it is the same.
    assert back.suite.cases == () and len(cell.suite.cases) == 2
    assert back.suite.name == cell.suite.name and back.suite.prompts == cell.suite.prompts


def problem(tmp_path: Path, suite: str, rows: list[dict] | None = None) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(write_project(tmp_path, suite, rows))
    return info.value


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    err = problem(tmp_path, REFERENCE.replace("max_tokens: 300", "max_tokens: [300"))
    assert err.path.endswith("invoices.yaml")
    assert err.line is not None and err.line >= 4
    assert "YAML syntax" in str(err) and "fix:" in str(err)


def test_unknown_key_names_line_and_valid_keys(tmp_path: Path) -> None:
    err = problem(tmp_path, REFERENCE.replace("repeat: 2", "repeats: 2"))
    assert err.line == 4
    assert "unknown key 'repeats'" in str(err) and "repeat" in err.fix


def test_missing_dataset(tmp_path: Path) -> None:
    err = problem(tmp_path, REFERENCE.replace("invoices.jsonl", "nope.jsonl"))
    assert "dataset file not found" in str(err) and err.line == 11


def test_invalid_schema(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "datasets" / "bad.schema.json").write_text('{"type": "objekt"}')
    err = problem(tmp_path, REFERENCE.replace("invoice.schema.json", "bad.schema.json"))
    assert "invalid JSON schema" in str(err) and err.line == 10


def test_malformed_target_lists_accepted_forms(tmp_path: Path) -> None:
    err = problem(tmp_path, REFERENCE.replace("openai:gpt-4o-mini,", "gpt-4o-mini,"))
    assert "malformed target 'gpt-4o-mini'" in str(err)
    assert "provider:model" in str(err) and err.line == 2


def test_missing_template_variable_names_case(tmp_path: Path) -> None:
    rows = [{"id": "no-text", "vars": {"body": "x"}}]
    err = problem(tmp_path, REFERENCE, rows)
    assert "invoices.jsonl:1" in str(err)
    assert "lacks template variable(s) ['text']" in str(err)


def test_bad_dataset_line(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "datasets" / "invoices.jsonl").write_text(
        '{"id": "a", "vars": {"text": "x"}}\n{oops\n'
    )
    with pytest.raises(SuiteError) as info:
        load_suite(tmp_path / "evals" / "invoices.yaml")
    err = info.value
    assert err.line == 2 and err.path.endswith("invoices.jsonl")


def test_unknown_assertion_type(tmp_path: Path) -> None:
    err = problem(tmp_path, REFERENCE.replace("type: schema-valid", "type: schema-vaild"))
    assert "unknown assertion type 'schema-vaild'" in str(err)


def test_csv_and_yaml_datasets(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "datasets" / "extra.csv").write_text("id,text,assert:contains\nc1,hello,hel\n")
    (tmp_path / "datasets" / "extra.yaml").write_text("- id: y1\n  vars: {text: hi}\n")
    suite = load_suite(
        write_project(
            tmp_path,
            REFERENCE.replace(
                "dataset: ../datasets/invoices.jsonl",
                "dataset: [../datasets/extra.csv, ../datasets/extra.yaml]",
            ),
        )
    )
    ids = [c.id for c in suite.cases]
    assert ids == ["acme-1", "c1", "y1"]
    assert suite.cases[1].assertions == ({"type": "contains", "value": "hel"},)
