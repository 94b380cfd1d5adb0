"""Tabular exports of a run's results through pandas: results.csv and results.parquet.

One row per Result, columns in Result field order, so the exports load back with the same
row count as results.jsonl. Nested fields (scores, tool_calls, prompt, vars) are JSON
strings: flat columns survive CSV and Parquet alike, and ``json.loads`` restores them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.types import Result

if TYPE_CHECKING:
    import pandas as pd

#: Result fields that hold lists or dicts; exported as JSON text.
NESTED_FIELDS = ("tool_calls", "scores", "prompt", "vars")

COLUMNS = tuple(f.name for f in dataclasses.fields(Result))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=False)


def results_frame(results: list[Result]) -> pd.DataFrame:
    """One row per result; nested fields as JSON strings."""
    import pandas as pd

    rows = []
    for r in results:
        row = r.to_dict()
        for name in NESTED_FIELDS:
            row[name] = _json(row[name])
        rows.append(row)
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def write_parquet(frame: pd.DataFrame, path: Path) -> Path | None:
    """Write Parquet with pyarrow; None (and nothing written) when pyarrow is missing."""
    if not parquet_available():
        return None
    frame.to_parquet(path, index=False, engine="pyarrow")
    return path
