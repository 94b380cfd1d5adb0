"""``echo``: a provider that answers with the rendered prompt, for grading stored outputs.

A target ``echo:any-name`` returns the last user message of the rendered prompt as its
answer, with no network, SDK or key: put a stored answer in a var (``prompt: {user:
"{{ output }}"}``, or a ``file://`` var) and the suite's assertions grade it. Usage counts
are whitespace-separated words (an approximation, like the simulator's), the cost is 0, and
tools and structured output are refused: an echo cannot call a tool.
"""

from __future__ import annotations

import time
from typing import ClassVar

from harness.errors import Unsupported
from harness.providers.base import ProviderSettings
from harness.types import Completion, Request, Usage


class EchoProvider:
    name: ClassVar[str] = "echo"

    def check(self, request: Request) -> None:
        if request.tools:
            raise Unsupported("echo: returns the prompt and cannot call tools", provider="echo")
        if request.structured == "native":
            raise Unsupported("echo: returns the prompt; structured output is not applied",
                              provider="echo")

    async def complete(self, request: Request) -> Completion:
        started = time.perf_counter()
        users = [m.content for m in request.messages if m.role == "user"]
        text = users[-1] if users else ""
        words = sum(len(m.content.split()) for m in request.messages)
        return Completion(
            text=text,
            usage=Usage(input_tokens=words, output_tokens=len(text.split())),
            finish_reason="stop",
            raw_finish_reason="stop",
            model=request.model,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    async def aclose(self) -> None:
        return None


def create(settings: ProviderSettings) -> EchoProvider:
    del settings  # nothing to configure
    return EchoProvider()
