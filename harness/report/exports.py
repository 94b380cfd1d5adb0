"""Tabular exports of a run's results through pandas: results.csv and results.parquet.

One row per Result, columns in Result field order, so the exports load back with the same
row count as results.jsonl. Nested fields (scores, tool_calls, prompt, vars, metadata) are JSON
strings: flat columns survive CSV and Parquet alike, and ``json.loads`` restores them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import operator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.types import Result

if TYPE_CHECKING:
    import pandas as pd

#: Result fields that hold lists or dicts; exported as JSON text.
NESTED_FIELDS = ("tool_calls", "scores", "prompt", "vars", "metadata", "derived_metrics")

COLUMNS = tuple(f.name for f in dataclasses.fields(Result))


_json = json.JSONEncoder(ensure_ascii=False, default=str).encode
#: Most cells have no tool calls and no vars; skip the encoder for the empty ones.
_EMPTY: dict[type, str] = {list: "[]", dict: "{}", tuple: "[]"}


def results_frame(results: list[Result]) -> pd.DataFrame:
    """One row per result; nested fields as JSON strings."""
    import pandas as pd

    # Straight from the attributes: Result.to_dict (dataclasses.asdict) deep-copies every
    # nested value, which would cost more than all the rest of the export.
    rows = list(map(operator.attrgetter(*COLUMNS), results))
    columns: dict[str, Any] = {}
    for i, name in enumerate(COLUMNS):
        values = [row[i] for row in rows]
        if name in NESTED_FIELDS:
            values = [_json(v) if v else _EMPTY.get(type(v), "null") for v in values]
        columns[name] = values
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
