"""OpenAI Chat Completions bodies and streams, with the Groq and Mistral variants.

Groq: usage carries timing fields, bodies carry ``x_groq``, and a stream's usage arrives
in the last chunk's ``x_groq.usage``. Mistral: usage is required on plain bodies, rides on
the last chunk of a stream, and a streamed tool call arrives whole in one chunk.
"""

from __future__ import annotations

import time
from typing import Any

from harness.simulator import tokens
from harness.simulator.answers import Answer
from harness.simulator.requests import ParsedRequest
from harness.simulator.sse import DONE, Frame, data_frame


class Ids:
    """Response, tool-call and request ids drawn from the request's seeded generator."""

    def __init__(self, provider: str, token: int) -> None:
        hexa = f"{token:024x}"
        self.response = {"mistral": hexa[:32], "anthropic": f"msg_sim{hexa}"}.get(
            provider, f"chatcmpl-sim{hexa}"
        )
        self.tool = {
            "mistral": _alnum(token, 9),
            "anthropic": f"toolu_sim{hexa}",
        }.get(provider, f"call_sim{hexa[:20]}")
        self.request = f"req_sim{hexa}"


def _alnum(token: int, n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    out = []
    for _ in range(n):
        token, r = divmod(token, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


def timing_headers(provider: str, processing_s: float) -> dict[str, str]:
    """The header in which a provider reports its own processing time: OpenAI's
    ``openai-processing-ms``, Mistral's gateway ``x-envoy-upstream-service-time`` (Groq
    reports timings in the usage instead, Anthropic none)."""
    name = {"openai": "openai-processing-ms", "mistral": "x-envoy-upstream-service-time"}
    if provider not in name:
        return {}
    return {name[provider]: str(round(processing_s * 1000))}


def usage(
    req: ParsedRequest, ans: Answer, token_rate: float | None, latency_s: float = 0.0
) -> dict[str, Any]:
    """``latency_s``: the scripted wait before the answer, Groq's prompt_time (the model's
    time before its first token)."""
    total = ans.prompt_tokens + ans.completion_tokens
    out: dict[str, Any] = {
        "prompt_tokens": ans.prompt_tokens,
        "completion_tokens": ans.completion_tokens,
        "total_tokens": total,
    }
    if req.provider == "openai":
        out["prompt_tokens_details"] = {"cached_tokens": ans.cached_tokens, "audio_tokens": 0}
        out["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    elif req.provider == "groq":
        completion_time = ans.completion_tokens / token_rate if token_rate else 0.0
        out.update(
            queue_time=0.0001,
            prompt_time=round(latency_s, 6),
            completion_time=round(completion_time, 6),
            total_time=round(latency_s + completion_time, 6),
            prompt_tokens_details={"cached_tokens": ans.cached_tokens},
        )
    elif req.provider == "mistral":
        out["prompt_tokens_details"] = {"cached_tokens": ans.cached_tokens}
    return out


def _tool_call(ans: Answer, ids: Ids, provider: str) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": ids.tool,
        "type": "function",
        "function": {"name": ans.tool_name, "arguments": ans.tool_args_json},
    }
    if provider == "mistral":
        call["index"] = 0
    return call


def body(
    req: ParsedRequest, ans: Answer, ids: Ids, token_rate: float | None, latency_s: float = 0.0
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if ans.is_tool else ans.text}
    if ans.is_tool:
        message["tool_calls"] = [_tool_call(ans, ids, req.provider)]
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": ans.finish}
    out: dict[str, Any] = {
        "id": ids.response,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model,
        "choices": [choice],
        "usage": usage(req, ans, token_rate, latency_s),
    }
    if req.provider != "mistral":
        message["refusal"] = None
        choice["logprobs"] = None
        out["system_fingerprint"] = "fp_simulator"
    if req.provider == "openai":
        out["service_tier"] = "default"
    if req.provider == "groq":
        out["x_groq"] = {"id": ids.request}
    return out


def stream(
    req: ParsedRequest, ans: Answer, ids: Ids, token_rate: float | None, latency_s: float = 0.0
) -> list[Frame]:
    created = int(time.time())
    provider = req.provider
    with_usage_chunk = req.include_usage and provider != "mistral"

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        out: dict[str, Any] = {
            "id": ids.response,
            "object": "chat.completion.chunk",
            "created": created,
            "model": req.model,
            "choices": [choice],
        }
        if provider != "mistral":
            choice["logprobs"] = None
            out["system_fingerprint"] = "fp_simulator"
        if with_usage_chunk:
            out["usage"] = None
        out.update(extra)
        return out

    role: dict[str, Any] = {"role": "assistant", "content": "" if not ans.is_tool else None}
    if provider == "groq":
        frames = [data_frame("head", chunk(role, x_groq={"id": ids.request}))]
    else:
        frames = [data_frame("head", chunk(role))]
    if ans.is_tool:
        call = _tool_call(ans, ids, provider)
        if provider == "mistral":
            frames.append(data_frame("token", chunk({"tool_calls": [call]})))
        else:
            start = {**call, "index": 0, "function": {"name": ans.tool_name, "arguments": ""}}
            frames.append(data_frame("token", chunk({"tool_calls": [start]})))
            for piece in tokens.pieces(ans.tool_args_json):
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                frames.append(data_frame("token", chunk(delta)))
    else:
        for piece in tokens.pieces(ans.text):
            frames.append(data_frame("token", chunk({"content": piece})))
    use = usage(req, ans, token_rate, latency_s)
    if provider == "groq":
        final = chunk({}, ans.finish, x_groq={"id": ids.request, "usage": use})
    elif provider == "mistral":
        final = chunk({"content": ""}, ans.finish, usage=use)
    else:
        final = chunk({}, ans.finish)
    frames.append(data_frame("tail", final))
    if with_usage_chunk:
        last = chunk({}, None, usage=use)
        last["choices"] = []
        frames.append(data_frame("tail", last))
    frames.append(DONE)
    return frames


def error_frame(kind: str, message: str) -> Frame:
    """The error chunk OpenAI-style servers send when a stream fails after it started."""
    return data_frame(
        "tail", {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    )
