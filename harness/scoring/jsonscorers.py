"""JSON scorers: is-json, contains-json, schema-valid.

The output is parsed with harness.scoring.jsonparse (json.loads after unwrapping one fenced block);
a parse error is a failed score whose reason says where the JSON broke. Schema violations
are reported as JSON paths (``$.items[0].price: -1 is less than the minimum of 0``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import check_dotted, resolve
from harness.scoring.jsonparse import JSONParseError, find_json, parse_json
from harness.types import Score

MAX_PATHS = 5
#: is-json and contains-json take the schema as ``value`` too (promptfoo's spelling).
_JSON_KEYS = ("schema", "model", "value")


def schema_of(spec: Mapping[str, Any]) -> Any:
    """The assertion's own schema: ``schema``, or ``value`` (a path may start ``file://``)."""
    schema = spec.get("schema", spec.get("value"))
    if isinstance(schema, str) and schema.startswith("file://"):
        schema = schema[len("file://"):]
    return schema


def _validate_schema_field(spec: Mapping[str, Any]) -> str | None:
    import jsonschema  # ~35 ms: imported when a schema is checked

    name = spec["type"]
    if "schema" in spec and "value" in spec:
        return f"{name}: give the schema as 'schema' or as 'value', not both"
    if "model" in spec:
        if "schema" in spec or "value" in spec:
            return f"{name}: give either a schema or 'model', not both"
        return check_dotted(spec, "model")
    schema = schema_of(spec)
    if schema is None:
        return None
    if isinstance(schema, str):
        if not schema.endswith((".json", ".yaml", ".yml")):
            return f"{name}: 'schema' must be a mapping or a .json/.yaml path, got {schema!r}"
        return None
    if not isinstance(schema, Mapping):
        return f"{name}: 'schema' must be a mapping or a path, got {schema!r}"
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"{name}: invalid JSON Schema at {exc.json_path}: {exc.message}"
    from harness.suite.inputguards import REMOTE_FIX, remote_ref

    remote = remote_ref(schema)
    if remote is not None:
        return f"{name}: the schema refers to {remote!r}, off this machine; {REMOTE_FIX}"
    return None


@lru_cache(maxsize=64)
def _local_registry(base: Path) -> Any:
    """References resolve to files under ``base`` only; nothing is ever fetched (a remote
    ``$ref`` in a schema would otherwise decide a verdict from someone else's server)."""
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT202012

    def retrieve(uri: str) -> Resource[Any]:
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(uri)
        if parts.scheme not in ("", "file") or parts.netloc:
            raise NoSuchResource(ref=uri)  # type: ignore[call-arg]
        path = Path(unquote(parts.path))
        path = path if path.is_absolute() else base / path
        try:
            contents = _load_schema_file(path.resolve())
        except (OSError, ValueError) as exc:
            raise NoSuchResource(ref=uri) from exc  # type: ignore[call-arg]
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


@lru_cache(maxsize=64)
def _load_schema_file(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _loc_path(loc: tuple[Any, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _limit(problems: list[str]) -> str:
    text = "; ".join(problems[:MAX_PATHS])
    if len(problems) > MAX_PATHS:
        text += f"; and {len(problems) - MAX_PATHS} more"
    return text


def check_against(
    data: Any, ctx: ScoreContext, spec: Mapping[str, Any]
) -> tuple[bool | None, str]:
    """Validate ``data`` against the spec's schema/model (or the suite schema).

    Returns (None, reason) when there is nothing to check against, else (ok, reason)
    where a failing reason lists the violating JSON paths.
    """
    import jsonschema  # ~35 ms: imported when a schema is checked

    if "model" in spec:
        import pydantic

        model = resolve(str(spec["model"]), ctx.base_dir)
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            return False, f"{spec['model']} is not a pydantic BaseModel class"
        try:
            model.model_validate(data)
        except pydantic.ValidationError as exc:
            problems = [f"{_loc_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
            return False, _limit(problems)
        return True, f"valid {model.__name__}"
    schema = schema_of(spec)
    base = ctx.base_dir
    if isinstance(schema, str):
        schema_file = (ctx.base_dir / schema).resolve()
        schema, base = _load_schema_file(schema_file), schema_file.parent
    if schema is None:
        schema = ctx.schema
    if schema is None:
        return None, "no schema given (suite 'schema:', or 'schema'/'model' on the assertion)"
    errors = sorted(
        jsonschema.Draft202012Validator(schema, registry=_local_registry(base)).iter_errors(data),
        key=lambda e: (list(map(str, e.absolute_path)), e.message),
    )
    if errors:
        return False, _limit([f"{e.json_path}: {e.message}" for e in errors])
    return True, "valid against the schema"


@scorer("schema-valid", validate=_validate_schema_field, keys=("schema", "model"), text=True)
def schema_valid(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """The whole output is JSON valid against ``schema`` / ``model`` / the suite schema."""
    try:
        data = parse_json(ctx.output)
    except JSONParseError as exc:
        return Score("schema-valid", False, False, str(exc))
    ok, reason = check_against(data, ctx, spec)
    if ok is None:
        return Score("schema-valid", False, None, reason)
    return Score("schema-valid", ok, ok, reason)


@scorer("is-json", validate=_validate_schema_field, keys=_JSON_KEYS, text=True)
def is_json(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """The whole output parses as JSON; with ``schema``/``model`` it must also be valid."""
    try:
        data = parse_json(ctx.output)
    except JSONParseError as exc:
        return Score("is-json", False, False, str(exc))
    if schema_of(spec) is not None or "model" in spec:
        ok, reason = check_against(data, ctx, spec)
        return Score("is-json", bool(ok), bool(ok), reason)
    return Score("is-json", True, True, "")


@scorer("contains-json", validate=_validate_schema_field, keys=_JSON_KEYS, text=True)
def contains_json(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """The first JSON object or array in the output; with ``schema``/``model`` it must be
    valid. The value is the JSON found."""
    try:
        data = find_json(ctx.output)
    except JSONParseError as exc:
        return Score("contains-json", False, None, str(exc))
    if schema_of(spec) is not None or "model" in spec:
        ok, reason = check_against(data, ctx, spec)
        return Score("contains-json", bool(ok), data, reason)
    return Score("contains-json", True, data, "")
