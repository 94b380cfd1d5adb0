"""Helpers the cloud adapters share: timing, base URLs, tool calls, finish reasons, JSON
Schema handling and the translation of HTTP and transport failures into harness.errors.

Nothing here imports an SDK at module level; the SDK-specific pieces stay in each adapter.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import json
import math
import re
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import (
    AuthError,
    BadRequest,
    ProviderError,
    RateLimited,
    TransientError,
)
from harness.providers.base import ProviderSettings
from harness.types import Completion, Message, Request, Tool, ToolCall, Usage

#: Longest provider message kept in an error (bodies can be whole HTML pages).
MAX_MESSAGE_CHARS = 500


# -- timing ----------------------------------------------------------------------------


#: An adapter's plain or streaming call: (request, params, clock) -> Completion.
CallFn = Callable[[Request, dict[str, Any], "Clock"], Awaitable[Completion]]
#: An adapter's translation of an SDK exception, or None when it is not the SDK's.
MapError = Callable[[BaseException, Request], ProviderError | None]


async def timed_call(
    request: Request, params: dict[str, Any], once: CallFn, stream: CallFn, map_error: MapError
) -> Completion:
    """One call as every cloud adapter makes it: timed from just before it is sent, bounded
    by the request's timeout, and any SDK failure translated at this boundary."""
    clock = Clock()
    try:
        async with asyncio.timeout(request.timeout_s):
            if request.stream:
                return await stream(request, params, clock)
            return await once(request, params, clock)
    except ProviderError:
        raise
    except Exception as exc:
        mapped = map_error(exc, request)
        if mapped is None:
            raise
        raise mapped from None


class Clock:
    """Times one call: started just before the request is sent, stopped at the last byte.

    ``first()`` marks the first content or tool-call delta of a stream (ttft); calls after
    the first are ignored, so it can be called on every delta.
    """

    __slots__ = ("_end", "_first", "_start")

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._first: float | None = None
        self._end: float | None = None

    def first(self) -> None:
        if self._first is None:
            self._first = time.perf_counter()

    def stop(self) -> None:
        if self._end is None:
            self._end = time.perf_counter()

    @property
    def latency_ms(self) -> float:
        end = self._end if self._end is not None else time.perf_counter()
        return (end - self._start) * 1000.0

    @property
    def ttft_ms(self) -> float | None:
        if self._first is None:
            return None
        return (self._first - self._start) * 1000.0


# -- warming ---------------------------------------------------------------------------

#: The smallest bodies the SDKs accept (docs: providers.md), parsed once when an adapter is
#: built so that the SDK's lazily built pydantic validators exist before the first timed call.
MIN_CHAT = {
    "id": "warm", "object": "chat.completion", "created": 0, "model": "warm",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": ""}}],
    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
}
MIN_CHUNK = {
    "id": "warm", "object": "chat.completion.chunk", "created": 0, "model": "warm",
    "choices": [{"index": 0, "finish_reason": None, "delta": {"content": ""}}],
}


def warm_models(*pairs: tuple[Any, Mapping[str, Any]]) -> None:
    """Validate each (model class, body) once, now.

    Pydantic builds an SDK model's validator on its first use, and the SDKs parse responses
    on the event loop: left alone, that build (tens of ms for Anthropic's Message, more for
    Mistral's) lands inside the first call's timing window and stalls every call then in
    flight. Adapters call this from ``create``, which the runner runs off the loop before
    any call (Runner.prepare). Warming is best effort: a failure here only means the first
    call builds the validator itself."""
    for model, body in pairs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                # Strict response validation uses the validator; the default path, the
                # Stainless SDKs' recursive model_construct, builds its field types' own.
                model.model_validate(body)
                model.model_construct(**body)
            except Exception:  # an SDK whose models changed shape: the first call will tell
                continue


def warm_modules(*names: str) -> None:
    """Import modules an SDK would import lazily inside a call (so on the runner's loop,
    inside a timing window). Best effort: a name a newer SDK no longer has is skipped."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


#: The Stainless SDKs (openai, anthropic, groq) drain a finished stream under
#: ``anyio.move_on_after``, which imports anyio's asyncio backend on first use: ~0.1-0.2 s on
#: the loop at the end of the run's first streamed call.
STAINLESS_LAZY = ("anyio._backends._asyncio",)


# -- settings --------------------------------------------------------------------------


def strict_validation(settings: ProviderSettings) -> bool:
    """``options: {strict_validation: true}`` makes Stainless SDKs validate every response
    body against their types (tests use it so an unfaithful simulator fails loudly)."""
    return bool(settings.options.get("strict_validation", False))


def passthrough(options: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """The target options this provider understands, as SDK keyword arguments.

    Anything else (base_url, api_key_env, another provider's knobs) is ignored: target
    options are shared across a suite's targets, so an unknown key is not an error.
    """
    return {k: options[k] for k in allowed if k in options and options[k] is not None}


def extra_body(options: Mapping[str, Any]) -> dict[str, Any] | None:
    """``options: {extra_body: {...}}`` is merged into the JSON body as-is."""
    body = options.get("extra_body")
    return dict(body) if isinstance(body, Mapping) and body else None


# -- messages, tools, schemas ----------------------------------------------------------


def chat_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """OpenAI-style chat messages (OpenAI, Groq, Mistral, OpenAI-compatible servers)."""
    return [{"role": m.role, "content": m.content} for m in messages]


def openai_tools(tools: Iterable[Tool], *, strict: bool = False) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        fn: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
        if tool.description:
            fn["description"] = tool.description
        if strict:
            fn["strict"] = True
        out.append({"type": "function", "function": fn})
    return out


def openai_tool_choice(choice: str | None) -> str | dict[str, Any] | None:
    """Tool choice: auto, none and required pass through; another string names the tool."""
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def tool_call(name: str, arguments: str | Mapping[str, Any] | None, call_id: str = "") -> ToolCall:
    """A normalised tool call. Arguments arrive as a JSON string (OpenAI style) or an object
    (Anthropic, sometimes Mistral); a string that is not a JSON object keeps ``arguments``
    None so a scorer can report the malformed call instead of the harness crashing."""
    if isinstance(arguments, Mapping):
        parsed: dict[str, Any] | None = dict(arguments)
        raw = json.dumps(parsed, ensure_ascii=False)
    else:
        raw = arguments or ""
        try:
            value = json.loads(raw) if raw.strip() else {}
        except ValueError:
            value = None
        parsed = value if isinstance(value, dict) else None
    return ToolCall(name=name or "", arguments=parsed, raw_arguments=raw, id=call_id or "")


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallDeltas:
    """Assembles OpenAI-style streamed tool-call deltas (keyed by ``index``)."""

    def __init__(self) -> None:
        self._calls: dict[int, _PartialCall] = {}

    def add(self, index: int | None, call_id: str | None, name: str | None, args: Any) -> None:
        key = index if index is not None else len(self._calls)
        call = self._calls.setdefault(key, _PartialCall())
        if call_id:
            call.id = call_id
        if name:
            # Names arrive whole in practice; concatenating would double them.
            call.name = name
        if isinstance(args, Mapping):
            call.arguments = [json.dumps(args, ensure_ascii=False)]
        elif args:
            call.arguments.append(str(args))

    def __bool__(self) -> bool:
        return bool(self._calls)

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            tool_call(c.name, "".join(c.arguments), c.id) for _, c in sorted(self._calls.items())
        )


_NAME_RE = re.compile(r"[^a-zA-Z0-9_-]+")


def schema_name(schema: Mapping[str, Any]) -> str:
    """A response-format name the APIs accept (^[a-zA-Z0-9_-]{1,64}$), from the title."""
    title = schema.get("title")
    name = _NAME_RE.sub("_", title).strip("_") if isinstance(title, str) else ""
    return (name or "response")[:64]


def is_strict_schema(schema: Any) -> bool:
    """True when OpenAI-style strict mode can take the schema unchanged: every object lists
    all its properties as required and forbids additional ones. A schema that is not
    strict-compatible is still sent, with strict off, rather than rewritten behind the
    suite author's back."""
    if not isinstance(schema, Mapping):
        return True
    props = schema.get("properties")
    if schema.get("type") == "object" or isinstance(props, Mapping):
        props = props if isinstance(props, Mapping) else {}
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required") or []) != set(props):
            return False
    children: list[Any] = list(props.values()) if isinstance(props, Mapping) else []
    for key in ("items", "additionalProperties", "not"):
        children.append(schema.get(key))
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        value = schema.get(key)
        children.extend(value if isinstance(value, list) else [])
    for key in ("$defs", "definitions"):
        value = schema.get(key)
        children.extend(value.values() if isinstance(value, Mapping) else [])
    return all(is_strict_schema(child) for child in children)


def openai_response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema_name(schema),
            "strict": is_strict_schema(dict(schema)),
            "schema": dict(schema),
        },
    }


# -- finish reasons and usage ------------------------------------------------------------

#: OpenAI, Groq, Mistral and most OpenAI-compatible servers.
CHAT_FINISH = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "length": "length",
    "model_length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}


def finish_reason(raw: Any, table: Mapping[str, str] = CHAT_FINISH) -> tuple[str, str | None]:
    """(normalised, raw): stop|length|tool_calls|content_filter|error|other."""
    if raw is None:
        return "other", None
    text = str(getattr(raw, "value", raw))
    return table.get(text, "other"), text


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def chat_usage(usage: Any) -> Usage:
    """OpenAI-style usage (prompt_tokens already includes cached tokens)."""
    if usage is None:
        return Usage()
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=prompt if isinstance(prompt, int) else None,
        output_tokens=completion if isinstance(completion, int) else None,
        cached_input_tokens=_int(getattr(prompt_details, "cached_tokens", 0)),
        reasoning_tokens=_int(getattr(completion_details, "reasoning_tokens", 0)),
    )


# -- errors ------------------------------------------------------------------------------


def redact(text: str, secret: str | None) -> str:
    """``text`` with the API key removed, and cut to a readable length."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "..."
    return text


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        return None
    if value is None and isinstance(headers, Mapping):
        for key, val in headers.items():
            if str(key).lower() == name:
                return str(val)
    return None if value is None else str(value)


def header_ms(headers: Any, name: str) -> float | None:
    """A duration in milliseconds from a response header (``openai-processing-ms``,
    ``x-envoy-upstream-service-time``); None when absent, unparseable or negative."""
    raw = _header(headers, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def seconds_ms(*parts: Any) -> float | None:
    """The sum of durations given in seconds, in ms; None when none of them is a number
    (a body field that is absent)."""
    numbers = [p for p in parts if isinstance(p, int | float) and not isinstance(p, bool)]
    if not numbers or not all(math.isfinite(n) and n >= 0 for n in numbers):
        return None
    return round(sum(numbers) * 1000.0, 3)


def retry_after_s(headers: Any) -> float | None:
    """Seconds the server asked us to wait: retry-after-ms, then retry-after (seconds or an
    HTTP date). None when absent or unparseable."""
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def body_message(body: Any, fallback: str = "") -> str:
    """The human message inside a provider error body (all four shapes)."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.strip() or fallback
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            msg = err.get("message")
            if isinstance(msg, str) and msg:
                return msg
        elif isinstance(err, str) and err:
            return err
        msg = body.get("message") or body.get("detail")
        if isinstance(msg, str) and msg:
            return msg
        if msg is not None:
            return json.dumps(msg, default=str)
    return fallback


def status_error(
    provider: str,
    status: int,
    message: str,
    *,
    headers: Any = None,
    model: str = "",
    secret: str | None = None,
) -> ProviderError:
    """The harness error for an HTTP error status."""
    message = redact(message or "no message", secret)
    wait = retry_after_s(headers)
    where = f"{provider} HTTP {status}"
    if status == 429:
        return RateLimited(
            f"{where}: rate limited: {message}",
            provider=provider,
            status=status,
            retry_after_s=wait,
        )
    if status == 529:
        # Anthropic "overloaded": capacity, not our quota; back off and try again.
        return RateLimited(
            f"{where}: overloaded: {message}", provider=provider, status=status, retry_after_s=wait
        )
    if status in (401, 403):
        return AuthError(
            f"{where}: authentication failed (check the API key): {message}",
            provider=provider,
            status=status,
        )
    if status == 404:
        return BadRequest(
            f"{where}: model {model!r} is unknown to {provider} (or the base URL is wrong): "
            f"{message}",
            provider=provider,
            status=status,
        )
    if status in (408, 409) or status >= 500:
        return TransientError(
            f"{where}: {message}", provider=provider, status=status, retry_after_s=wait
        )
    return BadRequest(f"{where}: {message}", provider=provider, status=status)


def malformed(provider: str, what: str, secret: str | None = None) -> TransientError:
    # Validation errors span lines; a record's error is one line.
    what = " ".join(what.split())
    return TransientError(
        f"{provider}: malformed response: {redact(what, secret)}", provider=provider
    )


def transport_error(exc: BaseException, provider: str, timeout_s: float) -> ProviderError | None:
    """A TransientError for a raw httpx/httpx2 failure or an undecodable body, else None.

    Stainless SDKs wrap send-time failures, but errors while a stream is being read (a
    dropped connection, a read timeout) surface as the HTTP library's own exceptions; the
    mistralai SDK never wraps them.
    """
    if isinstance(exc, TimeoutError):
        return TransientError(
            f"{provider}: no answer within {timeout_s:g} s (timeout_s)", provider=provider
        )
    for modname in ("httpx2", "httpx"):
        try:
            mod = __import__(modname)
        except ImportError:
            continue
        if isinstance(exc, mod.TimeoutException):
            return TransientError(
                f"{provider}: no answer within {timeout_s:g} s (timeout_s)", provider=provider
            )
        if isinstance(exc, (mod.TransportError, mod.StreamError, mod.DecodingError)):
            return TransientError(
                f"{provider}: connection failed: {type(exc).__name__}: {exc}",
                provider=provider,
            )
    if isinstance(exc, ValueError):
        # json.JSONDecodeError and pydantic.ValidationError both derive from ValueError.
        return malformed(provider, f"{type(exc).__name__}: {exc}")
    return None


def stainless_error(
    exc: BaseException, sdk: Any, provider: str, *, model: str, timeout_s: float, secret: str | None
) -> ProviderError | None:
    """Map an exception from a Stainless SDK (openai, anthropic, groq) to a harness error."""
    if isinstance(exc, sdk.APITimeoutError):
        return TransientError(
            f"{provider}: no answer within {timeout_s:g} s (timeout_s)", provider=provider
        )
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc
        return TransientError(
            f"{provider}: connection failed: {type(cause).__name__}: {redact(str(cause), secret)}",
            provider=provider,
        )
    if isinstance(exc, sdk.APIResponseValidationError):
        return malformed(provider, str(exc), secret)
    if isinstance(exc, sdk.APIStatusError):
        message = body_message(exc.body, exc.message)
        if exc.status_code < 400:
            # An error event inside a 200 stream: the answer was cut off mid-way.
            return TransientError(
                f"{provider}: error event mid-stream: {redact(message, secret)}",
                provider=provider,
                retry_after_s=retry_after_s(exc.response.headers),
            )
        return status_error(
            provider,
            exc.status_code,
            message,
            headers=exc.response.headers,
            model=model,
            secret=secret,
        )
    if isinstance(exc, sdk.APIError):
        # No status: OpenAI/Groq raise this for a {"error": ...} chunk in a stream.
        message = body_message(getattr(exc, "body", None), str(exc))
        return TransientError(
            f"{provider}: error event mid-stream: {redact(message, secret)}", provider=provider
        )
    return transport_error(exc, provider, timeout_s)
