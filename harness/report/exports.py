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


_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def results_frame(results: list[Result]) -> pd.DataFrame:
    """One row per result; nested fields as JSON strings."""
    import pandas as pd

    # Column by column from the attributes: Result.to_dict (dataclasses.asdict) deep-copies
    # every nested value, which costs more than all the rest of the export.
    columns: dict[str, list[Any]] = {}
    for name in COLUMNS:
        if name in NESTED_FIELDS:
            columns[name] = [_json(getattr(r, name)) for r in results]
        else:
            columns[name] = [getattr(r, name) for r in results]
    return pd.DataFrame(columns, columns=list(COLUMNS))


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
