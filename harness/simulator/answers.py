"""Decide what the simulated model says: echo, canned text, schema-valid JSON or a tool call,
with usage from the simulator tokenizer and ``max_tokens`` truncation.

The result (``Answer``) is provider-neutral; the wire modules turn it into each provider's
body or stream.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any

from harness.simulator import schema_gen, tokens
from harness.simulator.config import ModelScript
from harness.simulator.requests import ParsedRequest


@dataclass
class Answer:
    text: str = ""
    tool_name: str | None = None
    tool_args: dict[str, Any] | None = None
    #: "stop", "length" or "tool_calls"; the wire modules map it to the provider's names
    finish: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    #: The part of ``cache_write_tokens`` written with the 1-hour TTL (Anthropic).
    cache_write_1h_tokens: int = 0

    @property
    def is_tool(self) -> bool:
        return self.tool_name is not None

    @property
    def tool_args_json(self) -> str:
        return json.dumps(self.tool_args or {})


def build(req: ParsedRequest, script: ModelScript, rng: random.Random) -> Answer:
    answer = Answer()
    mode = _mode(req, script)
    tool = req.forced_or_first_tool()
    if mode == "tool" and tool is not None:
        canned = _canned(req, script)
        args = canned if isinstance(canned, dict) else None
        if args is None:
            generated = schema_gen.generate(tool.parameters, rng, name=tool.name)
            args = generated if isinstance(generated, dict) else {"value": generated}
        answer.tool_name, answer.tool_args, answer.finish = tool.name, args, "tool_calls"
        answer.completion_tokens = tokens.count(tool.name + " " + answer.tool_args_json)
    else:
        if mode == "json":
            text = _json_text(req, script, rng)
        elif mode == "canned":
            canned = _canned(req, script)
            text = req.last_user if canned is None else _as_text(canned)
        else:
            text = req.last_user
        text, cut = tokens.truncate(text, req.max_tokens)
        answer.text, answer.finish = text, "length" if cut else "stop"
        answer.completion_tokens = tokens.count(text)
    prompt = tokens.count(req.prompt_text)
    if req.tools:
        prompt += tokens.count(json.dumps([t.parameters for t in req.tools]))
    answer.prompt_tokens = prompt
    answer.cached_tokens = math.floor(prompt * script.cached_share)
    if req.provider == "anthropic":
        answer.cache_write_tokens = min(
            math.floor(prompt * script.cache_write_share), prompt - answer.cached_tokens
        )
        answer.cache_write_1h_tokens = math.floor(
            answer.cache_write_tokens * script.cache_write_1h_share
        )
    return answer


def _mode(req: ParsedRequest, script: ModelScript) -> str:
    tool_ready = req.forced_or_first_tool() is not None and not req.last_is_tool_result
    mode = script.answer
    if mode == "tool" and not tool_ready:
        mode = "auto"
    if mode != "auto":
        return mode
    if tool_ready:
        return "tool"
    if req.json_mode:
        return "json"
    if script.canned or script.canned_default is not None:
        return "canned"
    return "echo"


def _canned(req: ParsedRequest, script: ModelScript) -> Any:
    """The scripted answer for this request: by case id, then by a substring of the last
    user message, then of the whole prompt; else the default (None when there is none)."""
    if req.case_id is not None:
        for key, value in script.canned:
            if key == req.case_id:
                return value
    for haystack in (req.last_user, req.prompt_text):
        for key, value in script.canned:
            if key and key in haystack:
                return value
    return script.canned_default


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _json_text(req: ParsedRequest, script: ModelScript, rng: random.Random) -> str:
    canned = _canned(req, script)
    if isinstance(canned, dict | list):
        value: Any = canned
    elif isinstance(canned, str) and _is_json(canned):
        value = json.loads(canned)
    elif req.schema is not None:
        value = schema_gen.generate(req.schema, rng)
    else:
        value = {"answer": req.last_user if canned is None else canned}
    text = json.dumps(value)
    if rng.random() < script.invalid_json_rate:
        # The commonest real failure: the object is cut off before its closing brace.
        text = text[: max(1, len(text) - 1)] if len(text) > 1 else "{"
    return text


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
