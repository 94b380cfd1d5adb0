"""The JSON schemas a suite gives, checked while loading: ``schema:`` (inline or a file; JSON
Schema draft 2020-12, referring to nothing off this machine) and the tools of ``tools:`` and
of target mappings (each tool's parameters a valid schema).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import SuiteError
from harness.suite import inputguards
from harness.suite import inputs as suite_inputs
from harness.suite.inputs import InputProblem
from harness.suite.yamlfile import Fail, Loc
from harness.types import Tool


def load_schema(path: Path, raw: str | dict[str, Any] | None, fail: Fail) -> dict[str, Any] | None:
    """The suite's ``schema:``, read (a path is relative to the suite) and checked."""
    if raw is None:
        return None
    import jsonschema  # ~35 ms: imported when a schema is checked

    if isinstance(raw, str):
        schema_path = path.parent / raw
        if not schema_path.exists():
            raise fail(
                f"schema file not found: {schema_path}",
                "schema paths are relative to the suite file",
                ("schema",),
            )
        try:
            schema = json.loads(inputguards.read_text(schema_path, "schema"))
        except json.JSONDecodeError as exc:
            raise SuiteError(
                str(schema_path),
                f"schema is not valid JSON: {exc.msg}",
                "fix the JSON",
                line=exc.lineno,
            ) from None
    else:
        schema = raw
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise fail(
            f"invalid JSON schema at {where}: {exc.message}",
            "fix the schema (JSON Schema draft 2020-12)",
            ("schema",),
        ) from None
    if not isinstance(schema, dict):
        raise fail("schema must be a JSON object", "fix the schema", ("schema",))
    remote = inputguards.remote_ref(schema)
    if remote is not None:
        raise fail(f"the schema refers to {remote!r}, off this machine", inputguards.REMOTE_FIX,
                   ("schema",))
    return schema


def load_tools(
    path: Path, raw: list[Any] | str, fail: Fail, loc: Loc
) -> tuple[tuple[Tool, ...], Path | None]:
    """The tools of a ``tools:`` list, or of the JSON/YAML file it names (relative to the
    suite; a problem reading it is reported at ``loc``), and that file (None: inline)."""
    tools_path = None
    if isinstance(raw, str):
        tools_path = path.parent / raw
        try:
            raw = suite_inputs.tools_file(tools_path)
        except InputProblem as exc:
            raise fail(exc.problem, exc.fix, loc) from None
    return tuple(_tool(t, i, fail) for i, t in enumerate(raw)), tools_path


def _tool(raw: Any, i: int, fail: Fail) -> Tool:
    import jsonschema  # ~35 ms: imported when a schema is checked

    fields = suite_inputs.tool_fields(raw)
    if fields is None or not isinstance(fields[0], str) or not fields[0]:
        raise fail(
            "a tool must be {type: function, function: {name, description, parameters}} "
            "(OpenAI) or {name, description, input_schema} (Anthropic), with no other keys",
            "use one of the two forms",
            ("tools", i),
        )
    name, description, params = fields
    params = params or {"type": "object", "properties": {}}
    try:
        jsonschema.Draft202012Validator.check_schema(params)
    except jsonschema.SchemaError as exc:
        raise fail(
            f"tool {name!r} parameters are not a valid JSON schema: {exc.message}",
            "fix the parameters schema",
            ("tools", i),
        ) from None
    return Tool(name=name, description=description, parameters=params)
