"""Fixtures for report tests (helpers live in reportkit.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reportkit import META, sample_results, write_run

from harness.types import Result


@pytest.fixture
def run_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write a run directory: run_dir(name, results=None, meta=None) -> path."""

    def make(name: str = "run-a", results: list[Result] | None = None, **meta: Any) -> Path:
        rs = results if results is not None else sample_results(run_id=name)
        return write_run(tmp_path / name, rs, {**META, "run_id": name, **meta})

    return make
