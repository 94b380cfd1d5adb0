"""Anthropic Messages bodies and streams.

``usage.input_tokens`` excludes cache reads and writes, which are reported separately, as
the real API does. Every stream event carries an ``event:`` line equal to its ``type``.
"""

from __future__ import annotations

from typing import Any

from harness.simulator import tokens
from harness.simulator.answers import Answer
from harness.simulator.requests import ParsedRequest
from harness.simulator.sse import Frame, event_frame
from harness.simulator.wire_chat import Ids

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def usage(ans: Answer) -> dict[str, Any]:
    return {
        "input_tokens": ans.prompt_tokens - ans.cached_tokens - ans.cache_write_tokens,
        "output_tokens": ans.completion_tokens,
        "cache_creation_input_tokens": ans.cache_write_tokens,
        "cache_read_input_tokens": ans.cached_tokens,
        # The TTL split of the writes, as the real API reports it beside the total.
        "cache_creation": {
            "ephemeral_5m_input_tokens": ans.cache_write_tokens - ans.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": ans.cache_write_1h_tokens,
        },
        "service_tier": "standard",
    }


def _block(ans: Answer, ids: Ids) -> dict[str, Any]:
    if ans.is_tool:
        return {"type": "tool_use", "id": ids.tool, "name": ans.tool_name, "input": ans.tool_args}
    return {"type": "text", "text": ans.text}


def body(req: ParsedRequest, ans: Answer, ids: Ids) -> dict[str, Any]:
    return {
        "id": ids.response,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": [_block(ans, ids)],
        "stop_reason": STOP_REASONS[ans.finish],
        "stop_sequence": None,
        "usage": usage(ans),
    }


def stream(req: ParsedRequest, ans: Answer, ids: Ids) -> list[Frame]:
    start_usage = {**usage(ans), "output_tokens": 1}
    message: dict[str, Any] = {
        "id": ids.response,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    if ans.is_tool:
        block: dict[str, Any] = {**_block(ans, ids), "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in tokens.pieces(ans.tool_args_json)
        ]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in tokens.pieces(ans.text)]
    frames = [
        event_frame("head", {"type": "message_start", "message": message}),
        event_frame("head", {"type": "content_block_start", "index": 0, "content_block": block}),
        event_frame("head", {"type": "ping"}),
    ]
    for delta in deltas:
        frames.append(
            event_frame("token", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    final_usage = usage(ans)
    # message_delta's usage (MessageDeltaUsage) has neither of these.
    del final_usage["service_tier"], final_usage["cache_creation"]
    frames += [
        event_frame("tail", {"type": "content_block_stop", "index": 0}),
        event_frame(
            "tail",
            {
                "type": "message_delta",
                "delta": {"stop_reason": STOP_REASONS[ans.finish], "stop_sequence": None},
                "usage": final_usage,
            },
        ),
        event_frame("tail", {"type": "message_stop"}),
    ]
    return frames


def error_frame(kind: str, message: str) -> Frame:
    return event_frame("tail", {"type": "error", "error": {"type": kind, "message": message}})
