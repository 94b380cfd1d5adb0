"""Tabular exports of a run's results: results.csv and results.parquet, and the pandas frame.

One row per Result, columns in Result field order, so the exports load back with the same
row count as results.jsonl. Nested fields (scores, tool_calls, prompt, vars, metadata) are JSON
strings: flat columns survive CSV and Parquet alike, and ``json.loads`` restores them. Every
column has the type its Result field declares (``float | None`` is a float column whatever
the values), in the files and in the frame alike.

The files are written row by row: CSV with the csv module, Parquet with pyarrow's writer in
record batches, neither through a pandas DataFrame, so writing them imports neither pandas
nor (for the CSV) pyarrow and holds one batch of rows at a time. At the end of a run they are
written by a short-lived child process (``main`` here, started by
harness.run.export_child) that reads results.jsonl, so pyarrow's memory never joins the pytest
process's. pandas is the API for the data: ``results_frame`` (Result objects) and ``frame``
(a run directory) give the DataFrame that ``pd.read_parquet`` of the file equals.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import importlib.util
import itertools
import json
import operator
import os
import sys
import types
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.types import Result

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Result fields that hold lists or dicts; exported as JSON text.
NESTED_FIELDS = ("tool_calls", "scores", "prompt", "vars", "metadata", "derived_metrics")

COLUMNS = tuple(f.name for f in dataclasses.fields(Result))

#: Rows per Parquet record batch (and per row group): bounded memory, however big the run.
BATCH_ROWS = 1000


def _kind(hint: Any) -> str:
    """A Result field's column kind from its declared type: bool, int, float, str or json."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is Literal:
        return "str"
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(hint, "json")


_HINTS = typing.get_type_hints(Result)
#: Column name -> kind, in column order.
KINDS = {name: _kind(_HINTS[name]) for name in COLUMNS}
assert {n for n, k in KINDS.items() if k == "json"} == set(NESTED_FIELDS), KINDS

_json = json.JSONEncoder(ensure_ascii=False, default=str).encode
#: Most cells have no tool calls and no vars; skip the encoder for the empty ones.
_EMPTY: dict[type, str] = {list: "[]", dict: "{}", tuple: "[]"}
_NESTED_AT = tuple(i for i, name in enumerate(COLUMNS) if name in NESTED_FIELDS)
_row_of = operator.attrgetter(*COLUMNS)
#: What a record without a field holds there: the field's default, as Result.from_dict gives.
_DEFAULTS = {
    f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    for f in dataclasses.fields(Result)
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
}


def rows(results: Iterable[Result | dict[str, Any]]) -> Iterator[list[Any]]:
    """Each result as one export row: its field values in column order, nested fields as
    JSON text. Straight from the attributes: Result.to_dict would copy every nested value.
    A record's dict (harness.results.store.iter_records) gives the same row as its Result,
    without building the Result (a quarter of the export child's time)."""
    get = _DEFAULTS.get
    for result in results:
        if isinstance(result, dict):
            row = [result[c] if c in result else get(c) for c in COLUMNS]
        else:
            row = list(_row_of(result))
        for i in _NESTED_AT:
            v = row[i]
            row[i] = _json(v) if v else _EMPTY.get(type(v), "null")
        yield row


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary path that becomes ``path`` when the block succeeds and is removed when
    it fails: a reader never sees half a file, and a failure leaves no debris."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def arrow_schema() -> pa.Schema:
    """results.parquet's schema: each column the type its Result field declares."""
    import pyarrow as pa

    types_ = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}
    return pa.schema([(name, types_.get(kind, pa.string())) for name, kind in KINDS.items()])


PYARROW_MISSING = (
    "results.parquet not written: pyarrow is not installed "
    "(pip install 'pytest-llm-harness[parquet]')"
)


def write_exports(
    results: Iterable[Result | dict[str, Any]], out_dir: Path
) -> tuple[dict[str, Path], list[str]]:
    """results.csv and (with pyarrow) results.parquet in ``out_dir``, in one pass over
    ``results`` holding BATCH_ROWS rows at a time: (file name -> path, notes to log).

    CSV through the csv module (a missing value is an empty field, as pandas writes it);
    Parquet through pyarrow's writer, one record batch (and row group) per BATCH_ROWS."""
    csv_path = out_dir / "results.csv"
    parquet_path = out_dir / "results.parquet" if parquet_available() else None
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(
            open(stack.enter_context(_replacing(csv_path)), "w", encoding="utf-8", newline="")
        )
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        add_batch = None
        if parquet_path is not None:
            add_batch = stack.enter_context(_parquet_batches(parquet_path))
        it = rows(results)
        while batch := list(itertools.islice(it, BATCH_ROWS)):
            writer.writerows(batch)
            if add_batch is not None:
                add_batch(batch)
    files = {"results.csv": csv_path}
    if parquet_path is None:
        return files, [PYARROW_MISSING]
    files["results.parquet"] = parquet_path
    return files, []


@contextlib.contextmanager
def _parquet_batches(path: Path) -> Iterator[Any]:
    """A function that appends a batch of rows to ``path`` (complete when the block ends)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema()
    wrote = False

    def add(batch: list[list[Any]]) -> None:
        nonlocal wrote
        columns = [
            pa.array(col, type=t)
            for col, t in zip(zip(*batch, strict=True), schema.types, strict=True)
        ]
        writer.write_batch(pa.record_batch(columns, schema=schema))
        wrote = True

    with _replacing(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        yield add
        if not wrote:  # no rows: still a valid file with the columns
            writer.write_table(schema.empty_table())


# -- pandas: the API for the data ---------------------------------------------------------


def results_frame(results: Iterable[Result | dict[str, Any]]) -> pd.DataFrame:
    """One row per result, the columns of results.csv / results.parquet with their declared
    types; equal to ``pd.read_parquet`` of the results.parquet written from the same results."""
    import pandas as pd

    table = list(rows(results))
    columns: dict[str, Any] = {}
    for i, (name, kind) in enumerate(KINDS.items()):
        values = [row[i] for row in table]
        columns[name] = pd.Series(values, dtype=_dtype(kind, values), name=name)
    return pd.DataFrame(columns, columns=list(COLUMNS))


def _dtype(kind: str, values: list[Any]) -> str:
    """The dtype pandas reads a Parquet column of this kind back as: integers and booleans
    with a missing value become float64 and object, as they do in pd.read_parquet."""
    if kind == "float":
        return "float64"
    if kind == "int":
        return "float64" if None in values else "int64"
    if kind == "bool":
        return "object" if None in values else "bool"
    return "str"


def frame(run: Path) -> pd.DataFrame:
    """A run's results as a pandas DataFrame: ``run`` is a run directory or its
    results.jsonl. The same table as the run's results.csv and results.parquet."""
    from harness.results.store import iter_records

    return results_frame(iter_records(run))


# -- the export child (started by harness.run.export_child) ------------------------------


def _peak_mb() -> float | None:
    """This process's peak RSS since its exec (VmHWM; ru_maxrss would include the moment
    between fork and exec, when the child still had its parent's pages), for bench/."""
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


#: Packages the export child does without (see main).
BLOCKED = {"pandas", "numpy"}


class _Blocked:
    """An import finder that says BLOCKED packages are not installed (export child only)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is left out of the export process", name=name)


def main(argv: list[str] | None = None) -> int:
    """The export child: write RUN_DIR's exports, print what was written as JSON."""
    (run,) = sys.argv[1:] if argv is None else argv
    # pyarrow imports pandas (~70 MB, 0.3 s) the first time it converts a Python list, to
    # check for pandas types; none come here, so this process tells it there is no pandas.
    # numpy too: pyarrow works without it, and it is 0.1 s and ~11 MB more.
    sys.meta_path.insert(0, _Blocked())
    from harness.results.store import iter_records

    source = Path(run) / "results.jsonl"
    if not source.is_file():
        print(f"{source}: no such file", file=sys.stderr)
        return 2
    # Read as written: one batch of rows in memory at a time, never the whole run.
    files, notes = write_exports(iter_records(source), Path(run))
    print(json.dumps({"files": list(files), "notes": notes, "peak_mb": _peak_mb()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
