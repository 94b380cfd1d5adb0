"""The OpenAI chat-completions adapter, shared by every Stainless SDK that speaks it
(openai for OpenAI and OpenAI-compatible servers, groq for Groq).

It holds no SDK import: each adapter module imports its own SDK at module level (so the
registry can name the missing extra) and hands the SDK module and client to this class.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from harness.errors import BadRequest, ProviderError, TransientError, Unsupported
from harness.providers import _common as common
from harness.types import Completion, Request, Usage

#: The Stainless SDKs' switch (openai._constants.RAW_RESPONSE_HEADER, same in groq) that makes
#: a request return the response object, headers included, instead of only the parsed body.
RAW_RESPONSE = "X-Stainless-Raw-Response"


class ChatCompletionsProvider:
    """One client per instance; SDK retries off; every failure leaves as a harness error."""

    name: ClassVar[str]

    #: The body field carrying the output limit. OpenAI's reasoning models reject
    #: ``max_tokens``; many self-hosted servers only know ``max_tokens``.
    max_tokens_param: str = "max_completion_tokens"
    #: Target options passed as SDK keyword arguments.
    sdk_options: ClassVar[tuple[str, ...]] = (
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "reasoning_effort",
        "service_tier",
        "parallel_tool_calls",
        "logit_bias",
    )
    #: Target options the SDK has no argument for, sent in the JSON body.
    body_options: ClassVar[tuple[str, ...]] = ()
    #: The chat-completions path under the client's base URL.
    chat_path: ClassVar[str] = "/chat/completions"
    #: Response header with the provider's own processing time in ms (OpenAI documents
    #: ``openai-processing-ms``; llama.cpp's server sends it too), recorded as provider_ms.
    timing_header: ClassVar[str | None] = "openai-processing-ms"

    def __init__(
        self, client: Any, sdk: Any, *, secret: str | None, stream_usage: bool = True
    ) -> None:
        self.client = client
        self._sdk = sdk
        # Imported here: some SDKs load their types lazily, on the first create() call.
        self._chat_types = importlib.import_module(f"{sdk.__name__}.types.chat")
        common.warm_models(
            (self._chat_types.ChatCompletion, common.MIN_CHAT),
            (self._chat_types.ChatCompletionChunk, common.MIN_CHUNK),
        )
        common.warm_modules(*common.STAINLESS_LAZY)
        self._secret = secret
        self._stream_usage = stream_usage

    # -- protocol ------------------------------------------------------------------------

    def check(self, request: Request) -> None:
        """Nothing to refuse up front for a generic chat endpoint; subclasses add rules."""

    async def complete(self, request: Request) -> Completion:
        return await common.timed_call(
            request, self.params(request), self._once, self._stream, self.map_error
        )

    async def aclose(self) -> None:
        await self.client.close()

    # -- request -------------------------------------------------------------------------

    def params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": common.chat_messages(request.messages),
            self.max_tokens_param: request.max_tokens,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.seed is not None:
            params["seed"] = request.seed
        if request.structured == "native" and request.response_schema:
            params["response_format"] = common.openai_response_format(request.response_schema)
        if request.tools:
            params["tools"] = common.openai_tools(request.tools)
            choice = common.openai_tool_choice(request.tool_choice)
            if choice is not None:
                params["tool_choice"] = choice
        params.update(common.passthrough(request.options, self.sdk_options))
        body = common.passthrough(request.options, self.body_options)
        body.update(common.extra_body(request.options) or {})
        if body:
            params["extra_body"] = body
        return params

    async def _send(self, request: Request, params: dict[str, Any], *, stream: bool) -> Any:
        """POST the chat request through the SDK's own request method.

        ``client.post`` is the SDK's documented way to make a request: it builds, sends,
        validates and parses exactly as ``chat.completions.create`` does and raises the same
        errors, but skips create()'s recursive TypedDict transform of the parameters, which
        is an identity for the plain JSON built above and was the largest CPU cost per call
        (about a fifth of the runner's time at 50 concurrent calls).
        """
        body = {k: v for k, v in params.items() if k != "extra_body"}
        body.update(params.get("extra_body") or {})
        chat = self._chat_types
        if not stream:
            # The SDK's raw-response switch: the same request, parsing and errors, with the
            # response headers kept (they carry the provider's processing time).
            return await self.client.post(
                self.chat_path,
                body=body,
                cast_to=chat.ChatCompletion,
                options={"timeout": request.timeout_s, "headers": {RAW_RESPONSE: "raw"}},
            )
        return await self.client.post(
            self.chat_path,
            body={**body, "stream": True},
            cast_to=chat.ChatCompletion,
            options={"timeout": request.timeout_s},
            stream=True,
            stream_cls=self._sdk.AsyncStream[chat.ChatCompletionChunk],
        )

    # -- response ------------------------------------------------------------------------

    async def _once(
        self, request: Request, params: dict[str, Any], clock: common.Clock
    ) -> Completion:
        raw = await self._send(request, params, stream=False)
        response = await raw.parse()
        clock.stop()
        try:
            completion = self._completion(request, response, clock)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise common.malformed(self.name, f"{type(exc).__name__}: {exc}") from None
        return self._with_provider_ms(completion, raw.headers, response)

    def provider_ms(self, headers: Any, response_or_chunk: Any) -> float | None:
        """The provider's own processing time for this call, from the response headers or
        the body (a subclass reads its provider's field); None when it reports none."""
        if self.timing_header is None:
            return None
        return common.header_ms(headers, self.timing_header)

    def _with_provider_ms(
        self, completion: Completion, headers: Any, response_or_chunk: Any
    ) -> Completion:
        ms = self.provider_ms(headers, response_or_chunk)
        return completion if ms is None else replace(completion, provider_ms=ms)

    def _completion(self, request: Request, response: Any, clock: common.Clock) -> Completion:
        if not isinstance(response, self._chat_types.ChatCompletion):
            raise common.malformed(self.name, f"expected a chat completion, got {response!r:.80}")
        choices = response.choices or []
        if not choices:
            raise common.malformed(self.name, "no choices in the response")
        choice = choices[0]
        message = choice.message
        calls = tuple(
            common.tool_call(tc.function.name, tc.function.arguments, tc.id)
            for tc in (message.tool_calls or [])
            if getattr(tc, "function", None) is not None
        )
        finish, raw = common.finish_reason(choice.finish_reason)
        if getattr(message, "refusal", None) and not message.content:
            finish = "content_filter"
        return Completion(
            text=message.content or "",
            usage=self.usage(response) or Usage(),
            finish_reason=finish,
            raw_finish_reason=raw,
            tool_calls=calls,
            model=response.model or request.model,
            latency_ms=clock.latency_ms,
            ttft_ms=None,
            request_id=getattr(response, "_request_id", None) or response.id or None,
        )

    def usage(self, response_or_chunk: Any) -> Usage | None:
        """Usage from a response or a stream chunk; None when the object carries none."""
        usage = getattr(response_or_chunk, "usage", None)
        return None if usage is None else common.chat_usage(usage)

    def stream_params(self) -> dict[str, Any]:
        if self._stream_usage:
            return {"stream_options": {"include_usage": True}}
        return {}

    async def _stream(
        self, request: Request, params: dict[str, Any], clock: common.Clock
    ) -> Completion:
        stream = await self._send(request, {**params, **self.stream_params()}, stream=True)
        text: list[str] = []
        calls = common.ToolCallDeltas()
        raw_finish: str | None = None
        usage: Usage | None = None
        model = ""
        request_id: str | None = None
        refused = False
        usage_chunk: Any = None
        try:
            async for chunk in stream:
                model = getattr(chunk, "model", None) or model
                request_id = request_id or getattr(chunk, "id", None)
                chunk_usage = self.usage(chunk)
                if chunk_usage is not None:
                    usage = chunk_usage
                    usage_chunk = chunk
                for choice in getattr(chunk, "choices", None) or ():
                    delta = choice.delta
                    if delta is not None:
                        if delta.content:
                            clock.first()
                            text.append(delta.content)
                        if getattr(delta, "refusal", None):
                            refused = True
                        for tc in _iter(delta.tool_calls):
                            clock.first()
                            fn = tc.function
                            calls.add(
                                tc.index,
                                tc.id,
                                getattr(fn, "name", None),
                                getattr(fn, "arguments", None),
                            )
                    if choice.finish_reason:
                        raw_finish = str(choice.finish_reason)
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
        if refused and not text:
            finish = "content_filter"
        completion = Completion(
            text="".join(text),
            usage=usage or Usage(),
            finish_reason=finish,
            raw_finish_reason=raw,
            tool_calls=calls.calls(),
            model=model or request.model,
            latency_ms=clock.latency_ms,
            ttft_ms=clock.ttft_ms,
            request_id=getattr(stream, "_request_id", None) or request_id,
        )
        headers = getattr(getattr(stream, "response", None), "headers", None)
        return self._with_provider_ms(completion, headers, usage_chunk)

    # -- errors --------------------------------------------------------------------------

    def map_error(self, exc: BaseException, request: Request) -> ProviderError | None:
        mapped = common.stainless_error(
            exc,
            self._sdk,
            self.name,
            model=request.model,
            timeout_s=request.timeout_s,
            secret=self._secret,
        )
        if isinstance(mapped, BadRequest) and request.temperature is not None:
            text = str(mapped).lower()
            if "temperature" in text and ("support" in text or "unsupported" in text):
                # Reasoning models answer 400 to any temperature but their default; that
                # is a property of the model, recorded as unsupported, not a broken request.
                return Unsupported(
                    f"{self.name}: {request.model} rejects temperature "
                    f"{request.temperature:g}; remove it from the suite's temperatures "
                    f"or use null ({mapped})",
                    provider=self.name,
                    status=mapped.status,
                )
        return mapped


def _iter(items: Iterable[Any] | None) -> Iterable[Any]:
    return items or ()
