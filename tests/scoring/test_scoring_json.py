"""jsonparse and the JSON scorers: malformed JSON, fences, schema paths, pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.scoring import ScoreContext, validate_assertion
from harness.scoring.base import run_one
from harness.scoring.jsonparse import JSONParseError, find_json, parse_json

SCHEMA = {
    "type": "object",
    "required": ["name", "items"],
    "properties": {
        "name": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["price"],
                "properties": {"price": {"type": "number", "minimum": 0}},
            },
        },
    },
    "additionalProperties": False,
}


def test_parse_json_plain_and_fenced() -> None:
    assert parse_json(' {"a": 1} ') == {"a": 1}
    assert parse_json('Here you go:\n```json\n{"a": [1, 2]}\n```\nThanks') == {"a": [1, 2]}
    assert parse_json("```\n[1]\n```") == [1]
    assert parse_json("```JSON\n{}\n```") == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("{'a': 1}", "Expecting property name enclosed in double quotes"),
        ('{"a": 1,}', "line 1 column"),
        ('{"a": 1} trailing', "Extra data"),
        ("```python\nprint(1)\n```", "not JSON"),
    ],
)
def test_parse_json_errors_are_helpful(text: str, fragment: str) -> None:
    with pytest.raises(JSONParseError) as info:
        parse_json(text)
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)


def test_parse_json_never_evaluates() -> None:
    with pytest.raises(JSONParseError):
        parse_json("__import__('os').getcwd()")


def test_find_json() -> None:
    assert find_json('The answer is {"ok": true} and [1].') == {"ok": True}
    assert find_json("x {not json} then [1, 2]") == [1, 2]
    assert find_json('```json\n{"a": 1}\n```') == {"a": 1}
    with pytest.raises(JSONParseError, match="no JSON object or array"):
        find_json("the number 42 is not searched")


def run(output: str, base_dir: Path = Path("."), suite_schema: Any = None, **spec: Any):
    problem = validate_assertion(spec)
    assert problem is None, problem
    return run_one(ScoreContext(output=output, schema=suite_schema, base_dir=base_dir), spec)


def test_is_json() -> None:
    assert run('{"a": 1}', type="is-json").passed
    s = run('{"a": 1', type="is-json")
    assert not s.passed and "not JSON" in s.reason
    assert run('{"a": 1', type="not-is-json").passed
    assert not run('{"name": 3}', type="is-json", schema=SCHEMA).passed
    # without its own schema, is-json only parses (the suite schema is schema-valid's job)
    assert run('{"name": 3}', type="is-json", suite_schema=SCHEMA).passed


def test_contains_json() -> None:
    s = run('Sure! {"name": "x", "items": []} hope that helps', type="contains-json")
    assert s.passed and s.value == {"name": "x", "items": []}
    assert not run("no json here", type="contains-json").passed
    s = run('Sure! {"name": 1}', type="contains-json", schema=SCHEMA)
    assert not s.passed and "$.name" in s.reason


def test_schema_valid_with_suite_schema() -> None:
    good = {"name": "cart", "items": [{"price": 1.5}]}
    assert run(json.dumps(good), type="schema-valid", suite_schema=SCHEMA).passed
    assert run("```json\n" + json.dumps(good) + "\n```", type="schema-valid", suite_schema=SCHEMA).passed


def test_schema_violations_list_paths() -> None:
    bad = {"name": 7, "items": [{"price": 2}, {"price": -1}, {}], "extra": True}
    s = run(json.dumps(bad), type="schema-valid", suite_schema=SCHEMA)
    assert not s.passed and s.value is False
    assert "$.items[1].price: -1 is less than the minimum of 0" in s.reason
    assert "$.items[2]: 'price' is a required property" in s.reason
    assert "$.name: 7 is not of type 'string'" in s.reason
    assert "Additional properties are not allowed ('extra' was unexpected)" in s.reason


def test_schema_valid_malformed_json_is_a_score() -> None:
    s = run('{"name": "x", "items": [', type="schema-valid", suite_schema=SCHEMA)
    assert not s.passed and s.reason.startswith("not JSON")


def test_schema_valid_without_schema_fails_with_fix() -> None:
    s = run("{}", type="schema-valid")
    assert not s.passed and "no schema given" in s.reason


def test_inline_and_file_schema(tmp_path: Path) -> None:
    inline = {"type": "object", "required": ["a"]}
    assert not run("{}", type="schema-valid", schema=inline).passed
    (tmp_path / "s.yaml").write_text("type: array\nitems: {type: integer}\n")
    assert run("[1, 2]", base_dir=tmp_path, **{"type": "schema-valid", "schema": "s.yaml"}).passed
    s = run('[1, "x"]', base_dir=tmp_path, **{"type": "schema-valid", "schema": "s.yaml"})
    assert not s.passed and "$[1]" in s.reason


def test_pydantic_model(tmp_path: Path) -> None:
    (tmp_path / "models_for_test.py").write_text(
        "from pydantic import BaseModel\n"
        "class Item(BaseModel):\n    price: float\n"
        "class Cart(BaseModel):\n    name: str\n    items: list[Item]\n"
    )
    spec = {"type": "schema-valid", "model": "models_for_test:Cart"}
    assert run('{"name": "c", "items": [{"price": 1}]}', base_dir=tmp_path, **spec).passed
    s = run('{"name": "c", "items": [{"price": "cheap"}]}', base_dir=tmp_path, **spec)
    assert not s.passed and "$.items[0].price" in s.reason
    spec2 = {"type": "schema-valid", "model": "models_for_test.py:Item"}
    assert run('{"price": 3}', base_dir=tmp_path, **spec2).passed
    s = run("{}", base_dir=tmp_path, **{"type": "schema-valid", "model": "models_for_test:nope"})
    assert not s.passed and "scorer raised AttributeError" in s.reason


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "schema-valid", "schema": {"type": "nonsense"}}, "invalid JSON Schema"),
        ({"type": "schema-valid", "schema": "s.txt"}, ".json/.yaml path"),
        ({"type": "schema-valid", "model": "Cart"}, "'module:name'"),
        ({"type": "schema-valid", "model": "m:C", "schema": {}}, "not both"),
        ({"type": "contains-json", "schema": 3}, "must be a mapping or a path"),
    ],
)
def test_schema_spec_validation(spec: dict[str, Any], problem: str) -> None:
    got = validate_assertion(spec)
    assert got is not None and problem in got
