"""Generate a JSON value that satisfies a JSON Schema (the subset structured outputs use).

Covers type (and type lists), properties/required/additionalProperties, items,
min/maxItems, enum, const, anyOf/oneOf/allOf, local $ref ($defs / definitions), string
length and a few formats, numeric bounds and multipleOf. Every property is filled in, as
strict structured output does. Choices come from the caller's Random, so a seeded request
always gets the same value.
"""

from __future__ import annotations

import math
import random
from typing import Any

_FORMATS = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T12:00:00Z",
    "time": "12:00:00",
    "email": "someone@example.com",
    "uri": "https://example.com/item",
    "url": "https://example.com/item",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}
#: Below this nesting depth only required properties and minItems items are generated, so
#: recursive schemas end.
_DEEP = 4
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


def generate(schema: Any, rng: random.Random, *, root: Any = None, name: str = "value") -> Any:
    root = schema if root is None else root
    return _gen(schema, rng, root, name, depth=0)


def _gen(schema: Any, rng: random.Random, root: Any, name: str, depth: int) -> Any:
    if schema is True or not isinstance(schema, dict) or not schema:
        return f"{name} {rng.choice(_WORDS)}"
    if depth > 12:  # recursive schemas: stop with the smallest value that can fit
        return None
    if "$ref" in schema:
        return _gen(_resolve(schema["$ref"], root), rng, root, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            options = [s for s in schema[key] if not _is_null(s)] or schema[key]
            return _gen(options[0], rng, root, name, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = (
                _resolve(part["$ref"], root) if isinstance(part, dict) and "$ref" in part else part
            )
            if isinstance(part, dict):
                for k, v in part.items():
                    if k == "properties":
                        merged.setdefault("properties", {}).update(v)
                    elif k == "required":
                        merged["required"] = [*merged.get("required", []), *v]
                    else:
                        merged.setdefault(k, v)
        return _gen(merged, rng, root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = kinds[0]
    if kind is None:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema:
            kind = "array"
        else:
            kind = "string"
    if kind == "object":
        return _object(schema, rng, root, depth)
    if kind == "array":
        return _array(schema, rng, root, name, depth)
    if kind == "string":
        return _string(schema, rng, name)
    if kind == "integer":
        return _integer(schema, rng)
    if kind == "number":
        return _number(schema, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def _object(schema: dict[str, Any], rng: random.Random, root: Any, depth: int) -> dict[str, Any]:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out = {
        key: _gen(sub, rng, root, key, depth + 1)
        for key, sub in props.items()
        if depth < _DEEP or key in required  # deep inside recursive schemas: the minimum
    }
    for key in schema.get("required") or []:
        if key not in out:
            extra = schema.get("additionalProperties")
            out[key] = _gen(extra if isinstance(extra, dict) else {}, rng, root, key, depth + 1)
    need = int(schema.get("minProperties", 0))
    extra = schema.get("additionalProperties", True)
    i = 0
    while len(out) < need and extra is not False:
        out[f"extra_{i}"] = _gen(
            extra if isinstance(extra, dict) else {}, rng, root, "x", depth + 1
        )
        i += 1
    return out


def _array(
    schema: dict[str, Any], rng: random.Random, root: Any, name: str, depth: int
) -> list[Any]:
    lo = int(schema.get("minItems", 0 if depth >= _DEEP else 1))
    hi = int(schema.get("maxItems", max(lo, 3)))
    n = lo if depth >= _DEEP else max(lo, min(hi, rng.randint(lo, max(lo, min(hi, lo + 2)))))
    prefix = schema.get("prefixItems") or []
    items = schema.get("items", {})
    out = [_gen(s, rng, root, name, depth + 1) for s in prefix[:n]]
    while len(out) < n:
        out.append(_gen(items, rng, root, name, depth + 1))
    if schema.get("uniqueItems"):
        seen: list[Any] = []
        for v in out:
            if v not in seen:
                seen.append(v)
        out = seen
    return out


def _string(schema: dict[str, Any], rng: random.Random, name: str) -> str:
    text = _FORMATS.get(str(schema.get("format")), f"{name} {rng.choice(_WORDS)}")
    lo = int(schema.get("minLength", 0))
    hi = schema.get("maxLength")
    while len(text) < lo:
        text += " " + rng.choice(_WORDS)
    if hi is not None and len(text) > int(hi):
        text = text[: int(hi)]
    return text


def _bounds(schema: dict[str, Any], step: float) -> tuple[float, float]:
    lo = schema.get("minimum", -math.inf)
    hi = schema.get("maximum", math.inf)
    if "exclusiveMinimum" in schema:
        lo = max(lo, schema["exclusiveMinimum"] + step)
    if "exclusiveMaximum" in schema:
        hi = min(hi, schema["exclusiveMaximum"] - step)
    if lo == -math.inf and hi == math.inf:
        lo, hi = 0, 100
    elif lo == -math.inf:
        lo = hi - 100
    elif hi == math.inf:
        hi = lo + 100
    return float(lo), float(hi)


def _integer(schema: dict[str, Any], rng: random.Random) -> int:
    lo, hi = _bounds(schema, 1)
    lo_i, hi_i = math.ceil(lo), math.floor(hi)
    mult = schema.get("multipleOf")
    if isinstance(mult, int) and mult > 0:
        first = math.ceil(lo_i / mult) * mult
        last = math.floor(hi_i / mult) * mult
        if first <= last:
            return int(first + mult * rng.randint(0, (last - first) // mult))
    return rng.randint(lo_i, max(lo_i, hi_i))


def _number(schema: dict[str, Any], rng: random.Random) -> float | int:
    mult = schema.get("multipleOf")
    if isinstance(mult, int | float) and mult > 0:
        lo, hi = _bounds(schema, mult)
        k = math.ceil(lo / mult)
        return round(k * mult, 10) if k * mult <= hi else lo
    lo, hi = _bounds(schema, 1e-6)
    value = round(lo + rng.random() * (hi - lo), 2) if hi - lo > 0.01 else lo
    return min(max(value, lo), hi)


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _resolve(ref: str, root: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node
