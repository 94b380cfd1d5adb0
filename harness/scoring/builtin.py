"""Built-in scorers (minimal set; the scoring issue extends this module)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema

from harness.scoring.base import ScoreContext, scorer
from harness.types import Score


def _need_value(spec: Mapping[str, Any]) -> str | None:
    return None if "value" in spec else f"{spec['type']}: needs 'value'"


@scorer("contains", validate=_need_value)
def contains(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    value = str(spec["value"])
    ok = value in ctx.output
    return Score("contains", ok, ok, "" if ok else f"output does not contain {value!r}")


@scorer("schema-valid")
def schema_valid(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    schema = spec.get("schema") or ctx.schema
    if schema is None:
        return Score("schema-valid", False, None, "no schema given (suite 'schema:' or 'schema')")
    try:
        data = json.loads(ctx.output)
    except json.JSONDecodeError as exc:
        return Score("schema-valid", False, False, f"not JSON: {exc}")
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if errors:
        paths = "; ".join(f"{e.json_path}: {e.message}" for e in errors[:5])
        return Score("schema-valid", False, False, paths)
    return Score("schema-valid", True, True, "")


@scorer("latency")
def latency(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    limit = float(spec.get("max_ms", 0))
    ms = ctx.latency_ms
    if ms is None:
        return Score("latency", False, None, "no latency measured")
    note = " (original live latency; replayed from cache)" if ctx.cached else ""
    ok = ms <= limit
    return Score("latency", ok, ms, f"{ms:.0f} ms vs max {limit:.0f} ms{note}")
