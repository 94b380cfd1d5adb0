"""The example suites in evals/ load, cover the five targets, and their data is coherent."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.suite.loader import load_suite
from harness.suite.model import Suite

ROOT = Path(__file__).resolve().parent.parent
SUITES = sorted((ROOT / "evals").glob("*.yaml"))
PROVIDERS = {"local", "openai", "anthropic", "groq", "mistral"}


def by_name(name: str) -> Suite:
    return load_suite(ROOT / "evals" / f"{name}.yaml")


def test_there_are_at_least_three_example_suites() -> None:
    assert {p.stem for p in SUITES} >= {"extract-contacts", "triage-tickets", "select-tools"}


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suite_loads_with_thirty_cases_and_every_provider(path: Path) -> None:
    suite = load_suite(path)
    assert len(suite.cases) >= 30
    assert {t.provider for t in suite.targets} == PROVIDERS
    local = [t for t in suite.targets if t.provider == "local"]
    assert [t.id for t in local] == ["local:gemma-3-270m"]
    # The base model needs examples: every suite shows at least three before the case.
    turns = [role for role, _ in suite.templates]
    user_text = " ".join(src for role, src in suite.templates if role == "user")
    assert turns.count("assistant") >= 3 or user_text.count("\n\n") >= 3
    # The local model runs on two cores: keep its answers short.
    assert suite.max_tokens <= 100
    assert suite.repeat == 1


def test_extraction_expectations_come_from_the_text() -> None:
    suite = by_name("extract-contacts")
    assert suite.structured == "native" and suite.schema is not None
    for case in suite.cases:
        text = case.vars["text"]
        for spec in case.assertions:
            if spec["type"] == "contains":
                assert spec["value"] in text, case.id
            elif spec["type"] == "icontains":
                assert spec["value"].lower() in text.lower(), case.id


def test_triage_labels_are_the_five_queues_evenly() -> None:
    suite = by_name("triage-tickets")
    labels = [case.vars["label"] for case in suite.cases]
    assert set(labels) == {"billing", "bug", "account", "shipping", "feature"}
    assert len({labels.count(label) for label in set(labels)}) == 1
    local = next(t for t in suite.targets if t.provider == "local")
    assert local.options == {"chat_format": "raw", "stop": ["\n"]}


def test_every_expected_tool_is_offered() -> None:
    suite = by_name("select-tools")
    offered = {tool.name for tool in suite.tools}
    expected = {case.vars["expected_tool"] for case in suite.cases}
    assert expected == offered
    assert suite.tool_choice == "required"
