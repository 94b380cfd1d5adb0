"""Read a provider request body into one neutral shape the answer builder works from.

Bodies the real API would refuse with 400 raise ``InvalidRequest`` here, so an adapter bug
(a missing ``max_tokens`` for Anthropic, a message without content) shows up in tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Anthropic API versions from this one on refuse sampling parameters (providers.md).
ANTHROPIC_NO_SAMPLING_FROM = "2026-10-21"


class InvalidRequest(Exception):
    """The body is not one the provider would accept; answered with a 400."""


@dataclass
class Tool:
    name: str
    parameters: dict[str, Any]


@dataclass
class ParsedRequest:
    provider: str
    model: str
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    messages: list[tuple[str, str]] = field(default_factory=list)
    last_user: str = ""
    last_is_tool_result: bool = False
    json_mode: bool = False
    schema: dict[str, Any] | None = None
    tools: list[Tool] = field(default_factory=list)
    #: "auto", "none", "required" or the name of a forced tool
    tool_choice: str = "auto"
    case_id: str | None = None

    @property
    def prompt_text(self) -> str:
        return "\n".join(text for _, text in self.messages)

    def forced_or_first_tool(self) -> Tool | None:
        if not self.tools or self.tool_choice == "none":
            return None
        for tool in self.tools:
            if tool.name == self.tool_choice:
                return tool
        return self.tools[0]


def parse(provider: str, body: Any, headers: Mapping[str, str]) -> ParsedRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required")
    req = ParsedRequest(provider=provider, model=model, case_id=headers.get("x-sim-case-id"))
    req.stream = bool(body.get("stream", False))
    if provider == "anthropic":
        _parse_anthropic(req, body, headers)
    else:
        _parse_chat(req, body)
    return req


def _parse_chat(req: ParsedRequest, body: dict[str, Any]) -> None:
    """OpenAI Chat Completions, and the Groq and Mistral variants of it."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise InvalidRequest(f"messages[{i}] must be an object with a 'role'")
        role = msg["role"]
        text = _text_of(msg.get("content"))
        if msg.get("tool_calls"):
            text += " " + json.dumps(msg["tool_calls"], sort_keys=True)
        req.messages.append((role, text))
        if role == "user":
            req.last_user = text
    req.last_is_tool_result = req.messages[-1][0] == "tool"
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    req.max_tokens = _max_tokens(limit)
    options = body.get("stream_options")
    req.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
                raise InvalidRequest("response_format.json_schema.schema must be an object")
            req.json_mode = True
            req.schema = spec.get("schema") or {"type": "object"}
        elif fmt.get("type") == "json_object":
            req.json_mode = True
            if isinstance(fmt.get("schema"), dict):  # llama.cpp-style servers
                req.schema = fmt["schema"]
    for i, tool in enumerate(body.get("tools") or []):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise InvalidRequest(f"tools[{i}] must be {{type: function, function: {{name, ...}}}}")
        req.tools.append(Tool(fn["name"], fn.get("parameters") or {"type": "object"}))
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        req.tool_choice = "required" if choice == "any" else choice
    elif isinstance(choice, dict):
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            req.tool_choice = fn["name"]


def _parse_anthropic(req: ParsedRequest, body: dict[str, Any], headers: Mapping[str, str]) -> None:
    if "max_tokens" not in body:
        raise InvalidRequest("max_tokens: Field required")
    req.max_tokens = _max_tokens(body["max_tokens"])
    version = headers.get("anthropic-version", "")
    if version >= ANTHROPIC_NO_SAMPLING_FROM:
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                raise InvalidRequest(
                    f"{name}: not supported by this model with anthropic-version {version}"
                )
    system = body.get("system")
    if system:
        req.messages.append(("system", _text_of(system)))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: at least one message is required")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"messages.{i}.role: must be 'user' or 'assistant'")
        content = msg.get("content")
        text = _text_of(content)
        req.messages.append((msg["role"], text))
        if msg["role"] == "user":
            req.last_user = text
    last_content = messages[-1].get("content")
    req.last_is_tool_result = isinstance(last_content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in last_content
    )
    config = body.get("output_config") or {}
    fmt = config.get("format") if isinstance(config, dict) else None
    fmt = fmt or body.get("output_format")  # the structured-outputs beta spelling
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        req.json_mode = True
        req.schema = fmt.get("schema") or {"type": "object"}
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise InvalidRequest(f"tools.{i}: name is required")
        if "input_schema" not in tool and "type" not in tool:
            raise InvalidRequest(f"tools.{i}.input_schema: Field required")
        req.tools.append(Tool(tool["name"], tool.get("input_schema") or {"type": "object"}))
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "tool" and isinstance(choice.get("name"), str):
            req.tool_choice = choice["name"]
        elif kind == "any":
            req.tool_choice = "required"
        elif kind in ("auto", "none"):
            req.tool_choice = kind


def _max_tokens(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(f"max_tokens must be a positive integer, got {value!r}")
    return value


def _text_of(content: Any) -> str:
    """Text of a message content: a string or a list of parts/blocks (text, tool results,
    tool uses); images and other media count as nothing."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if kind == "text":
                    out.append(str(part.get("text", "")))
                elif kind == "tool_result":
                    out.append(_text_of(part.get("content")))
                elif kind == "tool_use":
                    out.append(json.dumps(part.get("input"), sort_keys=True))
        return "\n".join(out)
    raise InvalidRequest("message content must be a string or an array of content parts")
