"""Helpers of the compat ports (tests/compat): the run record a port returns and score
lookup. Imported by name (``from compatkit import ...``): several test folders have a
conftest, so ``import conftest`` would find another one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

PROVIDERS = ("openai", "anthropic", "groq", "mistral")


@dataclass
class Run:
    result: pytest.RunResult
    records: list[dict[str, Any]]
    summary: list[dict[str, Any]]

    def status(self) -> dict[tuple[str, str], str]:
        return {(r["case_id"], r["target"]): r["status"] for r in self.records}


def scores(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in record["scores"]}
