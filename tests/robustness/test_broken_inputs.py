"""Broken inputs, one row each: the run stops with a usage/collection status, one message
naming the file (and line) and the fix, no traceback, and no call reaches the provider."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from harness.simulator import Simulator

pytest.importorskip("openai")

BASE = """\
name: s
targets: [openai:gpt-4o-mini]
prompt:
  user: "Say {{ word }}"
cases:
  - id: one
    vars: {word: hi}
"""
COLLECT = 2  # pytest's INTERRUPTED: errors during collection
USAGE = 4


def sub(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BOMB = "name: s\nx:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n"
    for i in range(8)
)
WITH_DATASET = sub("cases:\n  - id: one\n    vars: {word: hi}\n", "dataset: data/rows{ext}\n")


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes]
    expect: str  # text the one message must contain
    where: str  # "file:line" or "file" the message starts with
    code: int = COLLECT
    args: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def suite(text: str, **more: str | bytes) -> dict[str, str | bytes]:
    return {"evals/s.yaml": text, **more}


def ds(ext: str, content: str | bytes) -> dict[str, str | bytes]:
    return suite(WITH_DATASET.replace("{ext}", ext), **{f"evals/data/rows{ext}": content})


def schema_suite(schema: str | bytes, name: str = "schema.json") -> dict[str, str | bytes]:
    text = sub("prompt:", f"structured: native\nschema: {name}\nprompt:")
    return suite(text, **{f"evals/{name}": schema})


CASES = [
    Case("yaml-syntax", suite(sub('user: "Say {{ word }}"', "user: [unclosed")),
         "YAML syntax error", "evals/s.yaml:"),
    Case("not-a-mapping", suite("- a\n- b\n"), "a suite must be a YAML mapping", "evals/s.yaml"),
    Case("unknown-key", suite(sub("prompt:", "promt:")), "unknown key 'promt'", "evals/s.yaml:3"),
    Case("missing-targets", suite(sub("targets: [openai:gpt-4o-mini]\n", "")),
         "missing required key 'targets'", "evals/s.yaml"),
    Case("empty-targets", suite(sub("[openai:gpt-4o-mini]", "[]")), "targets", "evals/s.yaml:2"),
    Case("unknown-provider", suite(sub("openai:gpt-4o-mini", "foo:bar")),
         "unknown provider 'foo'", "evals/s.yaml:2"),
    Case("malformed-target", suite(sub("openai:gpt-4o-mini", "openai")),
         "malformed target 'openai'", "evals/s.yaml:2"),
    Case("target-no-model", suite(sub("[openai:gpt-4o-mini]", "[{provider: openai}]")),
         "needs 'model'", "evals/s.yaml:2"),
    Case("target-unknown-key",
         suite(sub("[openai:gpt-4o-mini]", "[{provider: openai, model: m, colour: red}]")),
         "unknown target key", "evals/s.yaml:2"),
    Case("duplicate-target-ids",
         suite(sub("[openai:gpt-4o-mini]", "[openai:gpt-4o-mini, openai:gpt-4o-mini]")),
         "duplicate target ids", "evals/s.yaml:2"),
    Case("base-url-elsewhere", suite(sub(
        "[openai:gpt-4o-mini]",
        "[{provider: openai, model: gpt-4o-mini, base_url: 'https://collector.example/v1'}]")),
         "would receive OPENAI_API_KEY", "evals/s.yaml:2"),
    Case("base-url-not-http", suite(sub(
        "[openai:gpt-4o-mini]", "[{provider: openai, model: m, base_url: 'ftp://x/v1'}]")),
         "not an http(s) URL", "evals/s.yaml:2"),
    Case("api-key-env-not-text", suite(sub(
        "[openai:gpt-4o-mini]", "[{provider: openai, model: m, api_key_env: 5}]")),
         "api_key_env must be a variable name", "evals/s.yaml:2"),
    Case("prompt-and-messages",
         suite(sub("prompt:", "messages: [{role: user, content: hi}]\nprompt:")),
         "exactly one of 'prompt:', 'messages:' or 'prompts:'", "evals/s.yaml"),
    Case("no-prompt", suite(sub('prompt:\n  user: "Say {{ word }}"\n', "")),
         "exactly one of 'prompt:', 'messages:' or 'prompts:'", "evals/s.yaml"),
    Case("template-syntax", suite(sub("{{ word }}", "{{ word ")), "template syntax error",
         "evals/s.yaml:3"),
    Case("template-var-missing", suite(sub("{{ word }}", "{{ wrd }}")),
         "lacks template variable(s) ['wrd']", "evals/s.yaml:6"),
    Case("duplicate-case-ids", suite(BASE + "  - id: one\n    vars: {word: ho}\n"),
         "duplicate case id 'one'", "evals/s.yaml:8"),
    Case("no-cases", suite(sub("  - id: one\n    vars: {word: hi}\n", "").replace(
        "cases:\n", "cases: []\n")), "the suite has no cases", "evals/s.yaml"),
    Case("duplicate-top-key", suite(BASE + "name: t\n"), "duplicate key 'name'",
         "evals/s.yaml:8"),
    Case("duplicate-cases-key", suite(BASE + "cases:\n  - id: two\n    vars: {word: x}\n"),
         "duplicate key 'cases'", "evals/s.yaml:8"),
    Case("duplicate-var-key", suite(sub("{word: hi}", "{word: hi, word: ho}")),
         "duplicate key 'word'", "evals/s.yaml:7"),
    Case("alias-bomb", suite(BOMB), "expands to more than", "evals/s.yaml:"),
    Case("temperature-nan", suite(sub("name: s\n", "name: s\ntemperatures: [.nan]\n")),
         "temperatures.0 is nan", "evals/s.yaml:2"),
    Case("temperature-inf", suite(sub("name: s\n", "name: s\ntemperatures: [.inf]\n")),
         "temperatures.0 is inf", "evals/s.yaml:2"),
    Case("timeout-inf", suite(sub("name: s\n", "name: s\ntimeout_s: .inf\n")),
         "timeout_s is inf", "evals/s.yaml:2"),
    Case("temperature-high", suite(sub("name: s\n", "name: s\ntemperatures: [0.2, 5]\n")),
         "temperature 5.0 is outside 0..2", "evals/s.yaml:2"),
    Case("temperature-negative", suite(sub("name: s\n", "name: s\ntemperatures: [-1]\n")),
         "outside 0..2", "evals/s.yaml:2"),
    Case("temperature-same-id",
         suite(sub("name: s\n", "name: s\ntemperatures: [0.1, 0.1000001]\n")),
         "both are cell id t0.1", "evals/s.yaml:2"),
    Case("temperature-zero-twice", suite(sub("name: s\n", "name: s\ntemperatures: [0, 0.0]\n")),
         "both are cell id t0", "evals/s.yaml:2"),
    Case("repeat-zero", suite(sub("name: s\n", "name: s\nrepeat: 0\n")), "repeat",
         "evals/s.yaml:2"),
    Case("repeat-huge", suite(sub("name: s\n", "name: s\nrepeat: 1000000\n")), "repeat",
         "evals/s.yaml:2"),
    Case("max-tokens-zero", suite(sub("name: s\n", "name: s\nmax_tokens: 0\n")), "max_tokens",
         "evals/s.yaml:2"),
    Case("threshold-above-one", suite(sub("name: s\n", "name: s\nthreshold: 2\n")), "threshold",
         "evals/s.yaml:2"),
    Case("stream-not-bool", suite(sub("name: s\n", "name: s\nstream: maybe\n")), "stream",
         "evals/s.yaml:2"),
    Case("structured-unknown", suite(sub("name: s\n", "name: s\nstructured: xml\n")),
         "structured", "evals/s.yaml:2"),
    Case("native-without-schema", suite(sub("name: s\n", "name: s\nstructured: native\n")),
         "structured: native needs a 'schema:'", "evals/s.yaml:2"),
    Case("case-unknown-key", suite(sub("    vars: {word: hi}\n", "    vars: {word: hi}\n    "
                                       "expect: yes\n")), "unknown key 'expect'",
         "evals/s.yaml:8"),
    Case("case-threshold", suite(sub("    vars: {word: hi}\n", "    vars: {word: hi}\n    "
                                     "threshold: 3\n")), "threshold", "evals/s.yaml:8"),
    Case("var-nan", suite(sub("{word: hi}", "{word: .nan}")), "is nan", "evals/s.yaml:7"),
    Case("schema-missing", suite(sub("prompt:", "structured: native\nschema: none.json\n"
                                     "prompt:")), "schema file not found", "evals/s.yaml:4"),
    Case("schema-not-json", schema_suite("{not json"), "schema is not valid JSON",
         "evals/schema.json:1"),
    Case("schema-not-utf8", schema_suite(b'{"type": "object", "title": "\xff"}'),
         "not UTF-8", "evals/schema.json:1"),
    Case("schema-directory", {**schema_suite("{}", "sch.json"), "evals/sch.json": b""},
         "is a directory", "evals/sch.json"),
    Case("schema-invalid", schema_suite('{"type": 5}'), "invalid JSON schema", "evals/s.yaml:4"),
    Case("schema-remote-ref", schema_suite('{"$ref": "https://schemas.example/item.json"}'),
         "off this machine", "evals/s.yaml:4"),
    Case("schema-remote-ref-nested",
         schema_suite('{"type": "object", "properties": {"a": {"$ref": "//h.example/a"}}}'),
         "off this machine", "evals/s.yaml:4"),
    Case("schema-bom", schema_suite("\ufeff{}"), "byte-order mark", "evals/schema.json:1"),
    Case("assert-unknown-type", suite(BASE + "    assert: [{type: smells-like, value: x}]\n"),
         "unknown assertion type 'smells-like'", "evals/s.yaml"),
    Case("assert-no-type", suite(BASE + "    assert: [{value: x}]\n"), "assertion has no 'type'",
         "evals/s.yaml"),
    Case("assert-bad-regex", suite(BASE + "    assert: [{type: regex, value: '(('}]\n"),
         "invalid pattern", "evals/s.yaml"),
    Case("assert-negative-weight",
         suite(BASE + "    assert: [{type: contains, value: x, weight: -1}]\n"),
         "weight must be a number >= 0", "evals/s.yaml"),
    Case("assert-remote-schema", suite(BASE + "    assert: [{type: schema-valid, schema: "
                                       "{$ref: 'http://h.example/s.json'}}]\n"),
         "off this machine", "evals/s.yaml"),
    Case("bad-tool", suite(sub("prompt:", "tools: [{type: function}]\nprompt:")),
         "a tool must be", "evals/s.yaml:3"),
    Case("tools-file-directory",
         suite(sub("prompt:", "tools: t.json\nprompt:"), **{"evals/t.json": b""}),
         "t.json is a directory, not a file", "evals/s.yaml:3"),
    Case("var-file-directory",
         suite(sub("{word: hi}", "{word: 'file://w.json'}"), **{"evals/w.json": b""}),
         "w.json is a directory, not a file", "evals/s.yaml:6"),
    Case("template-file-directory",
         suite(sub('"Say {{ word }}"', "file://t.json"), **{"evals/t.json": b""}),
         "prompt file not found or not text", "evals/s.yaml:3"),
    Case("prompt-file-directory",
         suite(sub('prompt:\n  user: "Say {{ word }}"\n', "prompts: [{id: a, file: p.json}]\n"),
               **{"evals/p.json": b""}),
         "prompt file is a directory or not UTF-8 text", "evals/s.yaml:3"),
    Case("prompt-file-not-utf8",
         suite(sub('prompt:\n  user: "Say {{ word }}"\n', "prompts: [{id: a, file: p.txt}]\n"),
               **{"evals/p.txt": b"Say \xff {{ word }}"}),
         "prompt file is a directory or not UTF-8 text", "evals/s.yaml:3"),
    Case("dataset-missing", suite(WITH_DATASET.replace("{ext}", ".jsonl")),
         "dataset file not found", "evals/s.yaml:5"),
    Case("dataset-directory", {**ds(".jsonl", ""), "evals/data/rows.jsonl": b""},
         "is a directory", "evals/data/rows.jsonl"),
    Case("dataset-suffix", ds(".txt", "hi\n"), "unsupported dataset format '.txt'",
         "evals/data/rows.txt"),
    Case("jsonl-bad-line", ds(".jsonl", '{"id": "a", "vars": {"word": "x"}}\n{oops\n'),
         "not valid JSON", "evals/data/rows.jsonl:2"),
    Case("jsonl-not-object", ds(".jsonl", "[1, 2]\n"), "must be a JSON object",
         "evals/data/rows.jsonl:1"),
    Case("jsonl-not-utf8", ds(".jsonl", b'{"id": "a", "vars": {"word": "\xe9"}}\n'),
         "not UTF-8", "evals/data/rows.jsonl:1"),
    Case("csv-short-row", ds(".csv", "id,word,extra\na,x,1\nb,y\n"),
         "row has 2 fields, the header has 3", "evals/data/rows.csv:3"),
    Case("csv-long-row", ds(".csv", "id,word\na,x\nb,y,z\n"), "row has 3 fields, the header has 2",
         "evals/data/rows.csv:3"),
    Case("csv-bom", ds(".csv", "\ufeffid,word\na,x\n"), "byte-order mark",
         "evals/data/rows.csv:1"),
    Case("csv-not-utf8", ds(".csv", b"id,word\na,caf\xe9\n"), "not UTF-8",
         "evals/data/rows.csv:2"),
    Case("yaml-dataset-not-list", ds(".yaml", "a: 1\n"), "must be a list of cases",
         "evals/data/rows.yaml"),
    Case("yaml-dataset-dup-key", ds(".yaml", "- id: a\n  id: b\n  vars: {word: x}\n"),
         "duplicate key 'id'", "evals/data/rows.yaml:2"),
    Case("yaml-dataset-bad-case", ds(".yaml", "- id: a\n  vars: 5\n"), "vars",
         "evals/data/rows.yaml:1"),
    Case("suite-not-utf8", suite(BASE.encode().replace(b"hi", b"h\xffi")), "not UTF-8",
         "evals/s.yaml:7"),
    Case("suite-bom", suite("\ufeff" + BASE), "byte-order mark", "evals/s.yaml:1"),
    Case("suite-names-collide", {"evals/s.yaml": BASE, "evals/t.yaml": BASE},
         "suite name 's' is also used by evals/s.yaml", "evals/t.yaml"),
    Case("suite-too-many-cells", suite(sub("name: s\n", "name: s\nrepeat: 50\n")),
         "over the limit of 10", "evals/s.yaml", extra={"LLM_HARNESS_MAX_CELLS": "10"}),
    Case("yaml-too-big", suite(BASE + "#" + "x" * 5000 + "\n"), "over the limit of 1000",
         "evals/s.yaml", extra={"LLM_HARNESS_MAX_FILE_BYTES": "1000"}),
    Case("cli-repeat-huge", suite(BASE), "expected at most 1000 repeats", "--llm-repeat",
         code=USAGE, args=("--llm-repeat=1000000",)),
    Case("cli-budget-nan", suite(BASE), "expected a number", "--llm-budget", code=USAGE,
         args=("--llm-budget=nan",)),
    Case("cli-timeout-inf", suite(BASE), "expected a number", "--llm-timeout", code=USAGE,
         args=("--llm-timeout=inf",)),
    Case("cli-concurrency-zero", suite(BASE), "expected a number >= 1", "--llm-concurrency",
         code=USAGE, args=("--llm-concurrency=0",)),
    Case("cli-cache-mode", suite(BASE), "invalid cache mode", "--llm-cache", code=USAGE,
         args=("--llm-cache=sometimes",)),
]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_input(
    case: Case, sim: Simulator, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, content in case.files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == b"" and name.endswith((".json", ".jsonl")):
            path.mkdir()  # the case wants a directory where a file belongs
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sim")
    monkeypatch.setenv("OPENAI_BASE_URL", sim.base_url("openai"))
    monkeypatch.setenv("LLM_HARNESS_CACHE_DIR", str(pytester.path / "cache"))
    for key, value in case.extra.items():
        monkeypatch.setenv(key, value)
    sim.reset()
    result = pytester.runpytest("evals", "-p", "no:cacheprovider", "--llm-report=false",
                                *case.args)
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == case.code, text
    assert "Traceback" not in text
    assert sim.request_count() == 0
    lines = [line for line in text.splitlines() if case.expect in line]
    assert lines, text
    assert any(case.where in line for line in lines), text
    if case.code == COLLECT:
        assert "fix: " in text, text
    # Reported once, not once per cell or per retry.
    assert len(lines) <= 2, text

