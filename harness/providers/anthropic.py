"""Anthropic through the official ``anthropic`` SDK (Messages API).

Base URL: the target's ``base_url`` > ANTHROPIC_BASE_URL > https://api.anthropic.com.
- The current API (anthropic-version 2026-10-21) and SDK reject ``temperature``, ``top_p``
  and ``top_k``: a request with a temperature is refused in ``check`` (recorded as
  unsupported), never sent without it.
- Anthropic has no ``seed``; it is not sent (it still keys the cache).
- ``usage.input_tokens`` excludes cache reads and writes; Usage.input_tokens is their sum.
- Native structured output uses ``output_config.format`` (json_schema). Models before
  Claude 4 lack it: for ``claude-3*`` (or ``options: {structured_mode: tool}``) the schema
  becomes a forced tool whose input is returned as the JSON text.
- System messages go to the ``system`` parameter; "tool" messages are sent as user turns.
"""

from __future__ import annotations

from typing import Any, ClassVar

import anthropic

from harness.errors import ConfigError, ProviderError, TransientError, Unsupported
from harness.providers import _common as common
from harness.providers._transport import sdk_http_client
from harness.providers.base import ProviderSettings
from harness.types import Completion, Message, Request, ToolCall, Usage

FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
}
#: Name of the forced tool that carries a structured answer in "tool" mode.
ANSWER_TOOL = "respond"
_STRUCTURED_MODES = ("output_config", "tool")
_SDK_OPTIONS = ("stop_sequences", "service_tier", "thinking", "metadata")
#: The smallest message body the SDK accepts (warms its validator, see common.warm_models).
_MIN_MESSAGE = {
    "id": "warm", "type": "message", "role": "assistant", "model": "warm",
    "content": [{"type": "text", "text": ""}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 0, "output_tokens": 0},
}


class AnthropicProvider:
    name: ClassVar[str] = "anthropic"

    def __init__(self, client: Any, *, secret: str | None) -> None:
        self.client = client
        self._secret = secret

    # -- protocol ------------------------------------------------------------------------

    def check(self, request: Request) -> None:
        if request.temperature is not None:
            raise Unsupported(
                f"anthropic: the current Messages API (anthropic-version 2026-10-21) rejects "
                f"temperature ({request.temperature:g} for {request.model}); remove "
                "temperatures from the suite or use null",
                provider=self.name,
            )
        for knob in ("top_p", "top_k"):
            if request.options.get(knob) is not None:
                raise Unsupported(
                    f"anthropic: the current Messages API rejects {knob}; remove it from the "
                    "target options",
                    provider=self.name,
                )
        if self._structured_mode(request) == "tool":
            if request.tools:
                raise Unsupported(
                    "anthropic: structured output through a forced tool cannot be combined "
                    "with the suite's tools; use structured: json, or a model with "
                    "output_config (structured_mode: output_config)",
                    provider=self.name,
                )
            schema = request.response_schema or {}
            if schema.get("type", "object") != "object":
                raise Unsupported(
                    "anthropic: structured output through a forced tool needs an object "
                    "schema (tool input is always an object)",
                    provider=self.name,
                )

    async def complete(self, request: Request) -> Completion:
        return await common.timed_call(
            request, self.params(request), self._once, self._stream, self.map_error
        )

    def map_error(self, exc: BaseException, request: Request) -> ProviderError | None:
        return common.stainless_error(
            exc,
            anthropic,
            self.name,
            model=request.model,
            timeout_s=request.timeout_s,
            secret=self._secret,
        )

    async def aclose(self) -> None:
        await self.client.close()

    # -- request -------------------------------------------------------------------------

    @staticmethod
    def _structured_mode(request: Request) -> str | None:
        if request.structured != "native" or not request.response_schema:
            return None
        mode = request.options.get("structured_mode")
        if mode is None:
            return "tool" if request.model.startswith("claude-3") else "output_config"
        if mode not in _STRUCTURED_MODES:
            raise ConfigError(
                f"anthropic: options.structured_mode must be one of {_STRUCTURED_MODES}, "
                f"got {mode!r}"
            )
        return str(mode)

    def params(self, request: Request) -> dict[str, Any]:
        system, messages = split_system(request.messages)
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": messages,
        }
        if system:
            params["system"] = system
        output_config: dict[str, Any] = {}
        if request.options.get("effort") is not None:
            output_config["effort"] = request.options["effort"]
        mode = self._structured_mode(request)
        if mode == "output_config":
            schema = dict(request.response_schema or {})
            output_config["format"] = {"type": "json_schema", "schema": schema}
        if output_config:
            params["output_config"] = output_config
        tools = [anthropic_tool(t.name, t.description, t.parameters) for t in request.tools]
        if mode == "tool":
            schema = dict(request.response_schema or {})
            tools = [anthropic_tool(ANSWER_TOOL, "Give the answer in this format.", schema)]
            params["tool_choice"] = {"type": "tool", "name": ANSWER_TOOL}
        elif request.tools and request.tool_choice is not None:
            params["tool_choice"] = tool_choice(request.tool_choice)
        if tools:
            params["tools"] = tools
        params.update(common.passthrough(request.options, _SDK_OPTIONS))
        body = common.extra_body(request.options)
        if body:
            params["extra_body"] = body
        return params

    # -- response ------------------------------------------------------------------------

    async def _once(
        self, request: Request, params: dict[str, Any], clock: common.Clock
    ) -> Completion:
        response = await self.client.messages.create(**params, timeout=request.timeout_s)
        clock.stop()
        if not isinstance(response, anthropic.types.Message):
            raise common.malformed(self.name, f"expected a message, got {response!r:.80}")
        try:
            text: list[str] = []
            calls: list[ToolCall] = []
            for block in response.content or []:
                if block.type == "text":
                    text.append(block.text)
                elif block.type == "tool_use":
                    calls.append(common.tool_call(block.name, block.input, block.id))
            usage = anthropic_usage(response.usage)
            raw_stop = response.stop_reason
            model = response.model
            request_id = getattr(response, "_request_id", None) or response.id
        except (AttributeError, TypeError, KeyError) as exc:
            raise common.malformed(self.name, f"{type(exc).__name__}: {exc}") from None
        return self._completion(
            request, text, calls, raw_stop, usage, model, clock, request_id, ttft=False
        )

    def _completion(
        self,
        request: Request,
        text: list[str],
        calls: list[ToolCall],
        raw_stop: Any,
        usage: Usage,
        model: str | None,
        clock: common.Clock,
        request_id: str | None,
        *,
        ttft: bool,
    ) -> Completion:
        finish, raw = common.finish_reason(raw_stop, FINISH)
        if self._structured_mode(request) == "tool":
            # The forced tool's input *is* the answer: return it as the JSON text.
            answer = next((c for c in calls if c.name == ANSWER_TOOL), None)
            if answer is not None:
                text = [answer.raw_arguments]
                calls = [c for c in calls if c is not answer]
                if finish == "tool_calls":
                    finish = "stop"
        return Completion(
            text="".join(text),
            usage=usage,
            finish_reason=finish,
            raw_finish_reason=raw,
            tool_calls=tuple(calls),
            model=model or request.model,
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms if ttft else None,
            request_id=request_id,
        )

    async def _stream(
        self, request: Request, params: dict[str, Any], clock: common.Clock
    ) -> Completion:
        stream = await self.client.messages.create(**params, stream=True, timeout=request.timeout_s)
        blocks: dict[int, dict[str, Any]] = {}
        usage: dict[str, Any] = {}
        raw_stop: Any = None
        model: str | None = None
        request_id: str | None = getattr(stream, "_request_id", None)
        finished = False
        try:
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    message = event.message
                    model = message.model
                    request_id = request_id or message.id
                    _merge_usage(usage, message.usage)
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "text":
                        blocks[event.index] = {"type": "text", "parts": [block.text or ""]}
                        if block.text:
                            clock.first()
                    elif block.type == "tool_use":
                        clock.first()
                        start = block.input if isinstance(block.input, dict) else {}
                        blocks[event.index] = {
                            "type": "tool_use",
                            "id": block.id,
                            "name": block.name,
                            "parts": [],
                            "start": start,
                        }
                elif kind == "content_block_delta":
                    delta = event.delta
                    entry = blocks.get(event.index)
                    if entry is None:
                        continue
                    if delta.type == "text_delta" and entry["type"] == "text":
                        if delta.text:
                            clock.first()
                        entry["parts"].append(delta.text)
                    elif delta.type == "input_json_delta" and entry["type"] == "tool_use":
                        clock.first()
                        entry["parts"].append(delta.partial_json)
                elif kind == "message_delta":
                    raw_stop = event.delta.stop_reason or raw_stop
                    _merge_usage(usage, event.usage)
                elif kind == "message_stop":
                    finished = True
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            # A chunk that is not the shape the SDK promised (unvalidated in production).
            raise common.malformed(self.name, f"{type(exc).__name__}: {exc}") from None
        finally:
            await stream.close()
        clock.stop()
        if not finished:
            raise TransientError(
                f"{self.name}: the stream ended before message_stop (truncated)",
                provider=self.name,
            )
        text: list[str] = []
        calls: list[ToolCall] = []
        for _, entry in sorted(blocks.items()):
            if entry["type"] == "text":
                text.extend(entry["parts"])
            else:
                raw_args = "".join(entry["parts"])
                args: Any = raw_args if raw_args.strip() else entry["start"]
                calls.append(common.tool_call(entry["name"], args, entry["id"]))
        return self._completion(
            request,
            text,
            calls,
            raw_stop,
            _usage_from(usage),
            model,
            clock,
            request_id,
            ttft=True,
        )


# -- translation helpers ---------------------------------------------------------------------


def split_system(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns = [
        {"role": "assistant" if m.role == "assistant" else "user", "content": m.content}
        for m in messages
        if m.role != "system"
    ]
    return system, turns


def anthropic_tool(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "input_schema": schema}
    if description:
        tool["description"] = description
    return tool


def tool_choice(choice: str) -> dict[str, Any]:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _merge_usage(into: dict[str, Any], usage: Any) -> None:
    """Later stream events repeat or update counts: keep the latest value of each."""
    if usage is None:
        return
    for name in _USAGE_FIELDS:
        value = getattr(usage, name, None)
        if isinstance(value, int):
            into[name] = value
    details = getattr(usage, "output_tokens_details", None)
    thinking = getattr(details, "thinking_tokens", None)
    if isinstance(thinking, int):
        into["thinking_tokens"] = thinking
    # The TTL split of cache writes (1-hour writes cost more than 5-minute ones) comes only
    # in message_start's usage when streaming; message_delta's usage has no such object.
    creation = getattr(usage, "cache_creation", None)
    one_hour = getattr(creation, "ephemeral_1h_input_tokens", None)
    if isinstance(one_hour, int):
        into["ephemeral_1h_input_tokens"] = one_hour
    tier = getattr(usage, "service_tier", None)
    if isinstance(tier, str):
        into["service_tier"] = tier


def _usage_from(counts: dict[str, Any]) -> Usage:
    if "input_tokens" not in counts and "output_tokens" not in counts:
        return Usage()
    read = counts.get("cache_read_input_tokens", 0)
    write = counts.get("cache_creation_input_tokens", 0)
    base = counts.get("input_tokens")
    return Usage(
        input_tokens=None if base is None else base + read + write,
        output_tokens=counts.get("output_tokens"),
        cached_input_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=min(counts.get("ephemeral_1h_input_tokens", 0), write),
        reasoning_tokens=counts.get("thinking_tokens", 0),
        service_tier=counts.get("service_tier"),
    )


def anthropic_usage(usage: Any) -> Usage:
    """Usage.input_tokens is the total: Anthropic's input_tokens excludes cache traffic."""
    counts: dict[str, Any] = {}
    _merge_usage(counts, usage)
    return _usage_from(counts)


def create(settings: ProviderSettings) -> AnthropicProvider:
    key = settings.require_key()
    client = anthropic.AsyncAnthropic(
        api_key=key,
        base_url=settings.base_url,
        max_retries=0,
        http_client=sdk_http_client(settings.options, "httpx2"),
        _strict_response_validation=common.strict_validation(settings),
    )
    common.warm_models((anthropic.types.Message, _MIN_MESSAGE))
    common.warm_modules(*common.STAINLESS_LAZY)
    return AnthropicProvider(client, secret=key)
