"""Parsing JSON that a model wrote: json.loads only, never eval.

``parse_json`` takes the whole answer (after unwrapping one fenced code block, which models
add even when told not to); ``find_json`` finds the first object or array embedded in
prose. Both raise ``JSONParseError`` (a ValueError) whose message says what was wrong and
where, so a scorer can put it in its reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: A fenced block: ```json ... ``` or ``` ... ``` (any info string; json5/jsonc included).
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)\n?[ \t]*```", re.DOTALL)
_SNIPPET = 60


class JSONParseError(ValueError):
    """The text is not JSON. ``position`` is the offset in the parsed text, when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


def unwrap_fence(text: str) -> str:
    """The body of the first fenced code block tagged json (or untagged), else ``text``.

    Only a fence is unwrapped: text around it is ignored, because models often write
    "Here is the JSON:" before the block.
    """
    for match in _FENCE.finditer(text):
        lang = match.group(1).lower()
        if lang in ("", "json", "json5", "jsonc", "javascript", "js"):
            return match.group(2)
    return text


def _snippet(text: str, pos: int) -> str:
    start = max(0, pos - _SNIPPET // 2)
    piece = text[start : start + _SNIPPET].replace("\n", "\\n")
    return ("..." if start else "") + piece + ("..." if start + _SNIPPET < len(text) else "")


def parse_json(text: str) -> Any:
    """Parse a model's answer as JSON (one fenced block unwrapped first)."""
    body = unwrap_fence(text).strip()
    if not body:
        raise JSONParseError("not JSON: the output is empty", 0)
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise JSONParseError(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
            f"(near {_snippet(body, exc.pos)!r})",
            exc.pos,
        ) from None
    except RecursionError:
        raise JSONParseError("not JSON: nested too deeply to parse") from None


def find_json(text: str) -> Any:
    """The first JSON object or array embedded in ``text`` (a fenced block first).

    Scalars are not searched for: every number in prose would count as "contains JSON".
    """
    body = unwrap_fence(text)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", body):
        try:
            value, _ = decoder.raw_decode(body, match.start())
        except (json.JSONDecodeError, RecursionError):
            continue
        return value
    raise JSONParseError("no JSON object or array found in the output")
