"""Mistral through the official ``mistralai`` SDK (Speakeasy; chat completions).

Base URL: the target's ``base_url`` > MISTRAL_BASE_URL (ours: the SDK reads none) >
https://api.mistral.ai. The SDK retries nothing unless given a RetryConfig, and none is
given. It raises its own errors for HTTP statuses (``MistralError``: status, headers, body)
and lets httpx2 transport errors through unwrapped; both are translated here.
- Message content may be a string or a list of chunks (text, thinking): text chunks only.
- Usage must be on every plain body; a stream carries it on its last chunk. Cached prompt
  tokens arrive as an extra field (``prompt_tokens_details.cached_tokens``).
- Streamed tool calls arrive whole, each with its own id (their ``index`` is often 0).
- Provider-side time: Mistral's gateway sends ``x-envoy-upstream-service-time`` (ms spent
  upstream of the gateway). The SDK returns no headers, so an httpx response hook on the
  client built here reads it into the calling task's context.
- The SDK's serializers build a throwaway pydantic model class around the body type on
  every call, twice (``create_model`` in ``marshal_json`` and ``unmarshal``): 8 ms of CPU
  per call against 2.3 ms with the class reused (30 sequential calls, median). In a mixed
  run that CPU delayed every other provider's answers; ``spare_sdk_work`` makes the
  serializers reuse one class per (name, body type, config), the same definition.
  The SDK also reads a request class's type hints (``typing.get_type_hints``, which
  compiles and evaluates every string annotation again) on every call, for its query, path
  and form parameters: ~1 ms of the 2.45 ms of CPU a call took (300 calls, cProfile).
  A class's hints do not change; the same function reads each class's once. And its
  packages import their names lazily through a module ``__getattr__`` that imports and
  looks the name up again on every use (31 a call); a name found is bound in its package.
  Together: 2.45 -> ~1.2 ms of CPU a call.
- The SDK runs its request hooks in a thread-pool thread, twice a call (``asyncio.to_thread``
  before the request and after the response). With four providers' loops sharing the GIL
  each hop waited its turn twice, and the wait was timed as the call's latency: mistral's
  p50 was 10-30 ms over the other providers' at 100 ms scripted (bench_latency_truth). The
  client built here has only the SDK's own hooks (user agent, tracing, deprecation notes;
  the service-account hook returns at once when a key is given), a few microseconds each:
  they run inline (``HOOKS_INLINE``). Any other client's hooks run as the SDK runs them.
"""

from __future__ import annotations

import contextvars
import functools
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

import httpx2
from mistralai.client import Mistral, errors, models

from harness.errors import ProviderError, TransientError
from harness.providers import _common as common
from harness.providers._transport import sdk_http_client
from harness.providers.base import ProviderSettings
from harness.types import Completion, Message, Request, ToolCall, Usage

#: Response header with the time spent behind Mistral's gateway, in ms.
TIMING_HEADER = "x-envoy-upstream-service-time"
#: The running call's slot for that header (each call runs in its own task and context).
_TIMING: contextvars.ContextVar[list[float | None] | None] = contextvars.ContextVar(
    "harness_mistral_timing", default=None
)
_SDK_OPTIONS = (
    "top_p",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "safe_prompt",
    "prompt_mode",
    "reasoning_effort",
    "parallel_tool_calls",
    "min_tokens",
)


class MistralProvider:
    name: ClassVar[str] = "mistral"

    def __init__(
        self,
        client: Mistral,
        *,
        secret: str | None,
        http: tuple[httpx2.Client, httpx2.AsyncClient] | None = None,
    ) -> None:
        self.client = client
        self._secret = secret
        self._http = http

    # -- protocol ------------------------------------------------------------------------

    def check(self, request: Request) -> None:
        """Mistral takes every setting the harness sends (temperature 0-1.5 per model)."""

    async def complete(self, request: Request) -> Completion:
        timing: list[float | None] = []
        token = _TIMING.set(timing)
        try:
            completion = await common.timed_call(
                request, self.params(request), self._once, self._stream, self.map_error
            )
        finally:
            _TIMING.reset(token)
        provider_ms = timing[-1] if timing else None
        return completion if provider_ms is None else replace(completion, provider_ms=provider_ms)

    async def aclose(self) -> None:
        if self._http is None:
            # Clients the SDK built itself: it closes them.
            await self.client.__aexit__(None, None, None)
            self.client.__exit__(None, None, None)
            return
        sync_http, async_http = self._http
        await async_http.aclose()
        sync_http.close()

    # -- request -------------------------------------------------------------------------

    def params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": mistral_messages(request.messages),
            "max_tokens": request.max_tokens,
            "timeout_ms": max(1, int(request.timeout_s * 1000)),
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.seed is not None:
            params["random_seed"] = request.seed
        if request.structured == "native" and request.response_schema:
            fmt = common.openai_response_format(request.response_schema)["json_schema"]
            params["response_format"] = models.ResponseFormat(
                type="json_schema",
                json_schema=models.JSONSchema.model_validate(fmt),
            )
        if request.tools:
            params["tools"] = common.openai_tools(request.tools)
            choice = common.openai_tool_choice(request.tool_choice)
            if choice is not None:
                params["tool_choice"] = choice
        params.update(common.passthrough(request.options, _SDK_OPTIONS))
        return params

    # -- response ------------------------------------------------------------------------

    async def _once(
        self, request: Request, params: dict[str, Any], clock: common.Clock
    ) -> Completion:
        response = await self.client.chat.complete_async(**params)
        clock.stop()
        try:
            if not response.choices:
                raise common.malformed(self.name, "no choices in the response")
            choice = response.choices[0]
            message = choice.message
            if message is None:
                raise common.malformed(self.name, "a choice without a message")
            calls = tuple(
                common.tool_call(tc.function.name, tc.function.arguments, _id(tc.id))
                for tc in (message.tool_calls or [])
            )
            text = content_text(message.content)
            usage = mistral_usage(response.usage)
            raw_finish = choice.finish_reason
            model = response.model
            response_id = response.id
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise common.malformed(self.name, f"{type(exc).__name__}: {exc}") from None
        finish, raw = common.finish_reason(raw_finish)
        return Completion(
            text=text,
            usage=usage,
            finish_reason=finish,
            raw_finish_reason=raw,
            tool_calls=calls,
            model=model or request.model,
            latency_ms=clock.latency_ms,
            ttft_ms=None,
            request_id=response_id or None,
        )

    async def _stream(
        self, request: Request, params: dict[str, Any], clock: common.Clock
    ) -> Completion:
        stream = await self.client.chat.stream_async(**params)
        text: list[str] = []
        calls: list[list[Any]] = []  # [id, name, [argument pieces]]
        raw_finish: Any = None
        usage: Usage | None = None
        model = ""
        response_id: str | None = None
        try:
            async for event in stream:
                chunk = event.data
                model = chunk.model or model
                response_id = response_id or chunk.id
                if chunk.usage is not None:
                    usage = mistral_usage(chunk.usage)
                for choice in chunk.choices or ():
                    delta = choice.delta
                    piece = content_text(delta.content)
                    if piece:
                        clock.first()
                        text.append(piece)
                    for tc in delta.tool_calls or ():
                        clock.first()
                        _add_call(calls, _id(tc.id), tc.function.name, tc.function.arguments)
                    if choice.finish_reason:
                        raw_finish = choice.finish_reason
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            # A chunk that is not the shape the SDK promised (unvalidated in production).
            raise common.malformed(self.name, f"{type(exc).__name__}: {exc}") from None
        finally:
            await stream.close()
        clock.stop()
        if raw_finish is None:
            raise TransientError(
                f"{self.name}: the stream ended before the model finished (truncated)",
                provider=self.name,
            )
        finish, raw = common.finish_reason(raw_finish)
        tool_calls: tuple[ToolCall, ...] = tuple(
            common.tool_call(name, _join(args), call_id) for call_id, name, args in calls
        )
        return Completion(
            text="".join(text),
            usage=usage or Usage(),
            finish_reason=finish,
            raw_finish_reason=raw,
            tool_calls=tool_calls,
            model=model or request.model,
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms,
            request_id=response_id,
        )

    # -- errors --------------------------------------------------------------------------

    def map_error(self, exc: BaseException, request: Request) -> ProviderError | None:
        if isinstance(exc, errors.ResponseValidationError):
            # A 200 whose body is not a completion: malformed, or an error event mid-stream.
            detail = _event_message(exc.body)
            if detail:
                return TransientError(
                    f"{self.name}: error event mid-stream: {common.redact(detail, self._secret)}",
                    provider=self.name,
                )
            return common.malformed(self.name, str(exc), self._secret)
        if isinstance(exc, errors.MistralError):
            return common.status_error(
                self.name,
                exc.status_code,
                common.body_message(exc.body, exc.message),
                headers=exc.headers,
                model=request.model,
                secret=self._secret,
            )
        if isinstance(exc, errors.NoResponseError):
            return TransientError(f"{self.name}: no response received", provider=self.name)
        return common.transport_error(exc, self.name, request.timeout_s)


# -- translation helpers ---------------------------------------------------------------------


def mistral_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    # A bare "tool" turn (no tool_call_id: harness messages carry none) is sent as user text.
    return [
        {"role": "user" if m.role == "tool" else m.role, "content": m.content} for m in messages
    ]


def content_text(content: Any) -> str:
    """Text of a message or delta content: a string, or chunks of which only text counts."""
    if isinstance(content, str):
        return content
    if not content or not isinstance(content, list):
        return ""
    return "".join(
        str(getattr(chunk, "text", "") or "")
        for chunk in content
        if getattr(chunk, "type", None) == "text"
    )


def _event_message(body: Any) -> str:
    """The message of an error object sent where a completion (or chunk) was expected."""
    try:
        data = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return ""
    if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
        data = data["data"]  # a stream event wraps the chunk
    if not isinstance(data, Mapping):
        return ""
    if "error" in data or data.get("object") == "error":
        return common.body_message(data, "error")
    return ""


def _id(value: Any) -> str:
    # The SDK defaults a missing id to the string "null".
    return value if isinstance(value, str) and value != "null" else ""


def _join(pieces: list[Any]) -> Any:
    if len(pieces) == 1 and isinstance(pieces[0], Mapping):
        return pieces[0]
    return "".join(p if isinstance(p, str) else "" for p in pieces)


def _add_call(calls: list[list[Any]], call_id: str, name: str | None, args: Any) -> None:
    last = calls[-1] if calls else None
    if last is not None and (not call_id or call_id == last[0]) and not name:
        last[2].append(args)  # a continuation of the previous call's arguments
        return
    calls.append([call_id, name or "", [args]])


def _cached(usage: Any) -> int:
    extra = getattr(usage, "additional_properties", None) or {}
    for key in ("prompt_tokens_details", "prompt_token_details"):
        details = extra.get(key)
        if isinstance(details, Mapping) and isinstance(details.get("cached_tokens"), int):
            return int(details["cached_tokens"])
    value = extra.get("num_cached_tokens", extra.get("cached_tokens"))
    return value if isinstance(value, int) else 0


def mistral_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    # The SDK defaults absent counts to 0; an empty usage object means "not reported".
    present: set[str] = getattr(usage, "model_fields_set", set())
    prompt = usage.prompt_tokens if "prompt_tokens" in present else None
    completion = usage.completion_tokens if "completion_tokens" in present else None
    extra = getattr(usage, "additional_properties", None) or {}
    details = extra.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cached_input_tokens=_cached(usage),
        reasoning_tokens=reasoning if isinstance(reasoning, int) else 0,
    )


async def _capture_timing(response: httpx2.Response) -> None:
    """httpx response hook: keep the gateway's timing header for the call being made."""
    slot = _TIMING.get()
    if slot is not None:
        slot.append(common.header_ms(response.headers, TIMING_HEADER))


#: Set on a client's hooks object (run_hooks_inline): its hooks run on the loop, not in a
#: thread-pool thread.
HOOKS_INLINE = "harness_inline"
#: Set on each SDK function this module has wrapped, so that it is wrapped once.
_WRAPPED = "harness_wrapped"
#: The SDK's modules that read a request class's type hints on every call.
_TYPE_HINT_READERS = ("queryparams", "url", "forms")
#: The SDK's packages whose names are imported on first use, by a module ``__getattr__``
#: that looks each one up again on every use.
_LAZY_PACKAGES = ("mistralai.client.utils", "mistralai.client.models", "mistralai.client.errors")


def spare_sdk_work() -> bool:
    """Make the SDK do once what it does on every call (see the module docstring): its
    serializers reuse the model class they build around a body type, its request helpers
    read each class's type hints once, a lazily imported name is found directly after its
    first use, and the hooks of a client marked HOOKS_INLINE run on the loop. Idempotent.
    False (the model classes left as they are) when the SDK's serializers are not laid out
    as this expects, so a future SDK is used as it comes; each other step likewise leaves
    what it does not recognise alone."""
    import importlib

    from mistralai.client import basesdk
    from mistralai.client.utils import serializers

    for name in _TYPE_HINT_READERS:
        try:
            module = importlib.import_module(f"mistralai.client.utils.{name}")
        except ImportError:
            continue
        if getattr(module, "get_type_hints", None) is typing.get_type_hints:
            module.get_type_hints = _class_type_hints  # type: ignore[attr-defined]
    for name in _LAZY_PACKAGES:
        try:
            package = importlib.import_module(name)
        except ImportError:
            continue
        lookup = package.__dict__.get("__getattr__")
        if callable(lookup) and not getattr(lookup, _WRAPPED, False):
            package.__getattr__ = _remembering(package, lookup)  # type: ignore[method-assign]
    to_thread = getattr(basesdk, "run_sync_in_thread", None)
    if callable(to_thread) and not getattr(to_thread, _WRAPPED, False):
        basesdk.run_sync_in_thread = _inline_for_marked_hooks(to_thread)
    build = getattr(serializers, "create_model", None)
    if build is None or getattr(build, _WRAPPED, False):
        return build is not None
    if not callable(build) or getattr(build, "__module__", "").split(".")[0] != "pydantic":
        return False
    serializers.create_model = _reusing(build)
    return True


def _inline_for_marked_hooks(to_thread: Callable[..., Any]) -> Callable[..., Any]:
    """The SDK's ``run_sync_in_thread``, except that a method of a hooks object marked
    HOOKS_INLINE runs at once, on the loop (see the module docstring)."""

    async def run_sync_in_thread(func: Callable[..., Any], *args: Any) -> Any:
        if getattr(getattr(func, "__self__", None), HOOKS_INLINE, False):
            return func(*args)
        return await to_thread(func, *args)

    setattr(run_sync_in_thread, _WRAPPED, True)
    return run_sync_in_thread


def run_hooks_inline(client: Mistral) -> None:
    """Mark ``client``'s hooks HOOKS_INLINE (see the module docstring): for a client that
    has only the SDK's own hooks. An SDK that keeps them elsewhere is left as it is."""
    hooks = vars(client.sdk_configuration).get("_hooks")
    if hooks is not None:
        setattr(hooks, HOOKS_INLINE, True)


def _remembering(package: Any, lookup: Callable[[str], Any]) -> Callable[[str], Any]:
    """A package's lazy ``__getattr__`` that binds what it found in the package, as an
    import would: the next use finds it without a call (31 lookups a chat call, ~0.2 ms)."""

    def __getattr__(name: str) -> Any:
        value = lookup(name)
        setattr(package, name, value)
        return value

    setattr(__getattr__, _WRAPPED, True)
    return __getattr__


def _class_type_hints(obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``typing.get_type_hints``, read once per class (a copy each time: the caller may
    change it); anything but a bare class is read as before."""
    if args or kwargs or not isinstance(obj, type):
        return typing.get_type_hints(obj, *args, **kwargs)
    try:
        return dict(_hints_of_class(obj))
    except TypeError:  # a class that cannot be a key (its metaclass defines __eq__ only)
        return typing.get_type_hints(obj)


@functools.cache
def _hints_of_class(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _reusing(build: Callable[..., Any]) -> Callable[..., Any]:
    made: dict[Any, Any] = {}

    @functools.wraps(build)
    def create_model(name: str, /, **fields: Any) -> Any:
        config = fields.get("__config__") or {}
        try:
            key = (
                name,
                tuple(sorted((k, v) for k, v in fields.items() if k != "__config__")),
                tuple(sorted(config.items())),
            )
            hash(key)
        except TypeError:  # a body type that cannot be a key: built as the SDK builds it
            return build(name, **fields)
        model = made.get(key)
        if model is None:
            model = made[key] = build(name, **fields)
        return model

    setattr(create_model, _WRAPPED, True)
    return create_model


def create(settings: ProviderSettings) -> MistralProvider:
    key = settings.require_key()
    spare_sdk_work()
    # The SDK insists on a sync client too; both share one TLS context (building one
    # loads the CA bundle, the bulk of the construction time).
    tls = httpx2.create_ssl_context()
    sync_http = httpx2.Client(verify=tls, follow_redirects=True)
    async_http = sdk_http_client(settings.options, "httpx2")
    if async_http is None:
        async_http = httpx2.AsyncClient(verify=tls, follow_redirects=True)
    async_http.event_hooks["response"].append(_capture_timing)
    client = Mistral(
        api_key=key,
        server_url=settings.base_url,
        client=sync_http,
        async_client=async_http,
        retry_config=None,  # the runner owns retries
    )
    # The SDK imports its chat module and request/response models on first attribute
    # access (~0.2 s): done here, off the runner's loop, not inside the first timed call.
    _ = client.chat
    run_hooks_inline(client)  # its hooks are the SDK's own
    common.warm_models((models.ChatCompletionResponse, common.MIN_CHAT))
    # Request helpers its first call would import.
    common.warm_modules("mistralai.client.utils.headers", "mistralai.client.utils.queryparams")
    return MistralProvider(client, secret=key, http=(sync_http, async_http))
