"""Server-sent-event framing and the frame list a streamed answer is made of."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frame:
    """One SSE event. ``phase`` is "head" (before content), "token" (a content or tool
    delta, paced at the token rate) or "tail" (finish, usage, end marker): faults cut the
    stream by phase."""

    phase: str
    data: bytes


def data_frame(phase: str, payload: Any) -> Frame:
    """``data: {json}`` with no ``event:`` line (OpenAI, Groq, Mistral)."""
    return Frame(phase, b"data: " + _dumps(payload) + b"\n\n")


def event_frame(phase: str, payload: dict[str, Any]) -> Frame:
    """``event: <type>`` then ``data: {json}``: Anthropic ignores events without the name."""
    name = str(payload["type"]).encode()
    return Frame(phase, b"event: " + name + b"\ndata: " + _dumps(payload) + b"\n\n")


DONE = Frame("tail", b"data: [DONE]\n\n")


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
