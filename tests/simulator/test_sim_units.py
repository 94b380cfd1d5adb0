"""Pure parts of the simulator: config parsing and lookup, latency draws, the tokenizer,
JSON-from-schema generation, forced-fault parsing."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.errors import ConfigError
from harness.simulator import SimConfig, schema_gen, tokens
from harness.simulator.config import Latency
from harness.simulator.faults import Fault, forced


def test_tokenizer_counts_words_and_punctuation_and_pieces_rejoin() -> None:
    text = "  Hello, world!  It's 42.\n"
    assert tokens.count(text) == 9  # Hello , world ! It ' s 42 .
    parts = tokens.pieces(text)
    assert "".join(parts) == text
    assert len(parts) == 9
    assert tokens.truncate(text, 3) == ("  Hello, world", True)
    assert tokens.truncate(text, 9) == (text, False)
    assert tokens.pieces("") == []


def test_latency_forms() -> None:
    assert Latency.parse(20, "x").draw(0.9) == 20
    jitter = Latency.parse({"mean": 100, "jitter": 10}, "x")
    assert (jitter.draw(0.0), jitter.draw(0.5), jitter.draw(0.999999)) == pytest.approx(
        (90, 100, 110)
    )
    uniform = Latency.parse({"min": 10, "max": 30}, "x")
    assert (uniform.draw(0.0), uniform.draw(0.5)) == (10, 20)
    assert Latency.parse({"mean": 5, "jitter": 50}, "x").draw(0.0) == 0  # never negative


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"bogus": 1}, "unknown key"),
        ({"default": {"latency_ms": "fast"}}, "latency_ms"),
        ({"default": {"latency_ms": {"min": 5, "max": 1}}}, "below min"),
        ({"default": {"faults": {"rate_limit": 0.7, "server_error": 0.7}}}, "more than 1"),
        ({"default": {"faults": {"meteor": 0.1}}}, "unknown fault"),
        ({"default": {"answer": "poem"}}, "answer"),
        ({"models": {"m": {"cached_share": 2}}}, "between 0 and 1"),
        ({"known_models": {"cohere": ["x"]}}, "unknown provider"),
        ({"truncate_mode": "sometimes"}, "truncate_mode"),
    ],
)
def test_bad_configs_name_the_problem(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimConfig.from_mapping(raw)


def test_model_lookup_order_and_merge_over_default() -> None:
    config = SimConfig.from_mapping(
        {
            "default": {"latency_ms": 7, "answer": "echo"},
            "models": {
                "claude-*": {"latency_ms": 300},
                "openai:gpt-4o": {"answer": "json"},
                "gpt-4o": {"answer": "canned"},
            },
        }
    )
    assert config.script_for("openai", "gpt-4o").answer == "json"
    assert config.script_for("groq", "gpt-4o").answer == "canned"
    claude = config.script_for("anthropic", "claude-haiku-4-5")
    assert (claude.latency.a, claude.answer) == (300, "echo")
    assert config.script_for("mistral", "other").latency.a == 7


def test_known_models_list_or_per_provider() -> None:
    flat = SimConfig.from_mapping({"known_models": ["a"]})
    assert flat.model_known("openai", "a") and not flat.model_known("openai", "b")
    per = SimConfig.from_mapping({"known_models": {"groq": ["a"]}})
    assert per.model_known("groq", "a") and not per.model_known("openai", "a")
    assert SimConfig().model_known("openai", "anything")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_load_yaml_and_json(tmp_path: Path, suffix: str) -> None:
    data = {"seed": 3, "default": {"latency_ms": {"mean": 10, "jitter": 2}}}
    path = tmp_path / f"sim{suffix}"
    path.write_text(json.dumps(data))  # JSON is valid YAML too
    config = SimConfig.load(path)
    assert config.seed == 3
    assert config.script_for("openai", "x").latency == Latency("jitter", 10, 2)


def test_load_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        SimConfig.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid"):
        SimConfig.load(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        SimConfig.load(top)


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {"a": {"type": "string", "format": "date"}},
        "required": ["a"],
    },
    {
        "type": "array",
        "items": {"type": "integer", "multipleOf": 5, "minimum": 3},
        "minItems": 2,
        "maxItems": 4,
    },
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"type": ["null", "string"], "maxLength": 2},
    {"enum": ["x", "y"]},
    {"const": {"k": 1}},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
        ]
    },
    {
        "oneOf": [
            {"type": "null"},
            {
                "type": "object",
                "properties": {"z": {"type": "string", "minLength": 20}},
                "required": ["z"],
            },
        ]
    },
    {"type": "object", "minProperties": 2, "additionalProperties": {"type": "integer"}},
    {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "v": {"type": "integer"},
                    "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 1},
                },
                "required": ["v"],
            }
        },
        "$ref": "#/$defs/node",
    },
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "minItems": 2},
    {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True}
        },
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_generated_values_satisfy_their_schema(schema: dict[str, Any]) -> None:
    for seed in range(5):
        value = schema_gen.generate(schema, random.Random(seed))
        jsonschema.validate(value, schema)
    assert schema_gen.generate(schema, random.Random(1)) == schema_gen.generate(
        schema, random.Random(1)
    )


@pytest.mark.parametrize(
    ("header", "model", "expected"),
    [
        ("rate_limit", "gpt-4o", Fault("rate_limit")),
        (None, "fault-429", Fault("rate_limit", 429)),
        (None, "gpt-4o-mini+fault-503x2", Fault("server_error", 503, 2)),
        (None, "fault-rate_limitx3", Fault("rate_limit", None, 3)),
        (None, "fault-midstream_error", Fault("midstream_error")),
        (None, "fault-tolerant-model", None),
        (None, "gpt-4o", None),
        ("401", "fault-429", Fault("auth", 401)),  # the header wins over the model name
    ],
)
def test_forced_fault_parsing(header: str | None, model: str, expected: Fault | None) -> None:
    assert forced(header, model) == expected
