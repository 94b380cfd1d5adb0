"""A suite's cases: inline ``cases:`` and ``dataset:`` files (JSONL, CSV, YAML or a JSON
list) read as Case objects, file vars expanded (a glob makes one case per file), and the
checks across cases (unique ids, every template variable given, the vars RAG metrics read).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pydantic

from harness.errors import SuiteError
from harness.scoring import SCORERS
from harness.suite import assertions, inputguards
from harness.suite import inputs as suite_inputs
from harness.suite.inputs import InputProblem
from harness.suite.keys import CaseModel, SuiteModel, pydantic_problem
from harness.suite.model import Case
from harness.suite.yamlfile import Fail, Lines, read_yaml


class CaseDefaults:
    """What the suite gives every case: the judge of model-graded assertions, its ``vars:``,
    and the list of files read while loading (a cached parse is valid while they are
    unchanged)."""

    def __init__(self, path: Path, m: SuiteModel, judge: str | None, fail: Fail) -> None:
        self.judge = judge
        self.reads: list[Path] = []
        try:
            expanded = suite_inputs.expand_file_vars("suite", m.vars, path.parent, self.reads)
        except InputProblem as exc:
            raise fail(exc.problem, exc.fix, ("vars",)) from None
        if len(expanded) > 1:
            raise fail("a glob in the suite's vars would multiply every case",
                       "put the glob in a case's vars", ("vars",))
        #: The suite's ``vars:`` (file values read), under every case's own.
        self.vars: dict[str, Any] = expanded[0][1]


def load_cases(
    path: Path, m: SuiteModel, lines: Lines, defaults: CaseDefaults, sources: list[Path]
) -> list[Case]:
    """The suite's inline cases, then those of its datasets (appended to ``sources``)."""
    cases: list[Case] = []
    for i, c in enumerate(m.cases):
        line = lines.line(("cases", i))
        cases.extend(
            _case(path, c.model_dump(by_alias=True, exclude_unset=True), f"{path}:{line}", i,
                  defaults)
        )
    for ds in [m.dataset] if isinstance(m.dataset, str) else (m.dataset or []):
        sources.append(path.parent / ds)
        cases.extend(_load_dataset(path, path.parent / ds, lines, defaults))
    return cases


def check_cases(
    cases: list[Case], needed: set[str], suite_asserts: Iterable[Mapping[str, Any]]
) -> None:
    """Unique case ids; every case gives the template variables ``needed`` and the vars its
    RAG metrics read."""
    seen: dict[str, str] = {}
    for case in cases:
        if case.id in seen:
            raise SuiteError(
                case.source,
                f"duplicate case id {case.id!r} (first at {seen[case.id]})",
                "give each case a unique id",
            )
        seen[case.id] = case.source
        missing = needed - set(case.vars)
        if missing:
            raise SuiteError(
                case.source,
                f"case {case.id!r} lacks template variable(s) {sorted(missing)}",
                f"add them to the case's vars (the prompt uses {sorted(needed)})",
            )
        assertions.check_rag_vars(case, suite_asserts)


def _case(
    path: Path, raw: Mapping[str, Any], source: str, index: int, defaults: CaseDefaults
) -> list[Case]:
    """One case of a suite or dataset; a var that is a file glob makes one case per file."""
    try:
        model = CaseModel.model_validate(raw)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        problem, fix = pydantic_problem(err, CaseModel)
        raise SuiteError(source, f"case {index + 1}: {problem}", fix) from None
    asserts = assertions.checked(model.assert_, defaults.judge,
                                 lambda problem, fix, _: SuiteError(source, problem, fix))
    case_id = str(model.id) if model.id is not None else f"case-{index + 1}"
    try:
        transform = assertions.check_transform(model.transform)
        expanded = suite_inputs.expand_file_vars(
            case_id, {**defaults.vars, **model.vars}, path.parent, defaults.reads
        )
    except InputProblem as exc:
        raise SuiteError(source, f"case {case_id!r}: {exc.problem}", exc.fix) from None
    return [
        Case(cid, variables, asserts, model.threshold, source, model.description,
             dict(model.metadata), transform, tuple(dict.fromkeys(model.targets or ())))
        for cid, variables in expanded
    ]


def _load_dataset(
    suite_path: Path, ds: Path, lines: Lines, defaults: CaseDefaults
) -> list[Case]:
    if not ds.exists():
        raise SuiteError(
            str(suite_path),
            f"dataset file not found: {ds}",
            "dataset paths are relative to the suite file",
            line=lines.line(("dataset",)),
        )
    suffix = ds.suffix.lower()
    rows: list[tuple[Mapping[str, Any], int]] = []
    if ds.is_dir() or suffix in (".jsonl", ".csv"):
        content = inputguards.read_text(ds, "dataset")
    if suffix == ".jsonl":
        for n, text in enumerate(content.splitlines(), start=1):
            if not text.strip():
                continue
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SuiteError(
                    str(ds),
                    f"not valid JSON: {exc.msg}",
                    'each line must be one JSON object: {"id": ..., "vars": {...}}',
                    line=n,
                ) from None
            if not isinstance(parsed, dict):
                raise SuiteError(
                    str(ds), "each line must be a JSON object", "wrap it in {...}", line=n
                )
            rows.append((parsed, n))
    elif suffix == ".csv":
        known = set(SCORERS)
        reader = csv.DictReader(io.StringIO(content, newline=""))
        for rec in reader:
            n = reader.line_num
            ragged = inputguards.ragged_row(rec, list(reader.fieldnames or ()))
            if ragged is not None:
                raise SuiteError(str(ds), ragged, "give every row one value per header column "
                                 "(quote values that contain commas)", line=n)
            try:
                rows.append((suite_inputs.csv_row(rec, known), n))
            except InputProblem as exc:
                raise SuiteError(str(ds), exc.problem, exc.fix, line=n) from None
    elif suffix in (".yaml", ".yml", ".json"):
        # A JSON array is YAML too: one reader, with line numbers for both.
        data, ds_lines = read_yaml(ds)
        if not isinstance(data, list):
            raise SuiteError(
                str(ds),
                f"a {suffix[1:].upper()} dataset must be a list of cases",
                "write '- id: ...\\n  vars: {...}' items",
            )
        for i, row in enumerate(data):
            rows.append((row, ds_lines.line((i,)) or 0))
    else:
        raise SuiteError(
            str(ds), f"unsupported dataset format {suffix!r}",
            "use .jsonl, .json (a list), .csv, .yaml or .yml"
        )
    return [
        case
        for i, (row, n) in enumerate(rows)
        for case in _case(ds, row, f"{ds}:{n}", i, defaults)
    ]
