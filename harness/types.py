"""Value types that flow through the pipeline: Request -> Completion -> Result.

All are plain dataclasses so they serialise to JSON (cache entries, results.jsonl) without
custom encoders; ``to_dict`` / ``from_dict`` are the only (de)serialisers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]

#: Normalised finish reasons; the provider's own word is kept in ``raw_finish_reason``.
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "other"]


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Tool:
    """A tool in OpenAI function format; adapters translate it per provider."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class Request:
    """Everything that changes a provider's output, plus how to send it.

    ``timeout_s`` and ``stream`` change how the call is made, not what comes back, so the
    cache key leaves them out (see cache.KEY_FIELDS).
    """

    provider: str
    model: str
    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float | None = None
    timeout_s: float = 60.0
    stream: bool = False
    #: JSON Schema the answer must follow, sent natively when ``structured == "native"``.
    response_schema: dict[str, Any] | None = None
    structured: Literal["none", "native", "json"] = "none"
    tools: tuple[Tool, ...] = ()
    #: "auto" | "none" | "required" | a tool name to force.
    tool_choice: str | None = None
    seed: int | None = None
    #: Repeats are distinct samples: the index is part of the cache key.
    repeat: int = 0
    #: Target-level settings (base_url, provider-specific params) that change the output.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    #: Input tokens served from the provider's prompt cache (billed at the cached price).
    cached_input_tokens: int = 0
    #: Input tokens written to the provider's prompt cache (Anthropic bills these higher).
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    #: The part of ``cache_write_tokens`` written with the 1-hour TTL (Anthropic's
    #: ``usage.cache_creation.ephemeral_1h_input_tokens``), billed above the 5-minute price.
    cache_write_1h_tokens: int = 0
    #: The provider's billing tier for the call when it reports one (Anthropic's
    #: ``usage.service_tier``: "standard", "priority" or "batch"); "batch" is priced at the
    #: row's batch prices.
    service_tier: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """One tool call, normalised: ``arguments`` is the parsed object when it parsed,
    else None with the raw text kept in ``raw_arguments``."""

    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""
    id: str = ""


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    raw_finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    model: str = ""
    #: From the moment the request was sent (after any queueing) to the last byte.
    latency_ms: float = 0.0
    #: Time to the first content or tool-call delta; None for non-streaming calls.
    ttft_ms: float | None = None
    request_id: str | None = None
    #: Time the provider says it spent on the call (a header or usage field, see each
    #: adapter); None when it reports none. Compare with ``latency_ms``: the rest is network
    #: and client.
    provider_ms: float | None = None
    #: Part of ``latency_ms`` during which the runner's event loop was stalled (the client,
    #: not the provider, was slow); 0 when none overlapped the call (harness.calls.stalls).
    stall_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        data = dict(data)
        data["usage"] = Usage(**data.get("usage", {}))
        data["tool_calls"] = tuple(ToolCall(**tc) for tc in data.get("tool_calls", ()))
        return cls(**data)

    @property
    def output_tokens_per_s(self) -> float | None:
        """Decode speed: output tokens over the time after the first token (or whole call)."""
        n = self.usage.output_tokens
        if not n:
            return None
        span_ms = self.latency_ms - (self.ttft_ms or 0.0)
        if span_ms <= 0:
            return None
        return n / (span_ms / 1000.0)


@dataclass(frozen=True)
class Score:
    """One assertion's verdict. ``value`` is the measured quantity (similarity, ms, ...)."""

    name: str
    passed: bool
    value: Any = None
    reason: str = ""
    weight: float = 1.0
    #: The assertion's ``metric:`` name, aggregated per group (harness.results.named_metrics).
    metric: str | None = None


Status = Literal["passed", "failed", "error", "skipped"]


#: The prompt variant label of a suite with one ``prompt:`` / ``messages:``.
DEFAULT_PROMPT_ID = "default"


@dataclass(slots=True)
class Result:
    """One cell's record, one line of results.jsonl. Field names are a public format.

    Slotted: a run holds every Result at its end, and an instance dict of ~45 fields costs
    ~1.2 KB more per cell than slots (60 MB at 50,000 cells)."""

    run_id: str
    suite: str
    case_id: str
    target: str
    provider: str
    model: str
    temperature: float | None
    repeat: int
    status: Status
    passed: bool
    output: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    schema_valid: bool | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    queue_ms: float | None = None
    #: Client-side loop stall inside the latency window (see Completion.stall_ms).
    stall_ms: float | None = None
    #: Provider-reported processing time (see Completion.provider_ms).
    provider_ms: float | None = None
    tokens_per_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    #: The 1-hour-TTL part of ``cache_write_tokens`` (Anthropic; priced higher).
    cache_write_1h_tokens: int | None = None
    cost_usd: float | None = None
    cost_if_live_usd: float | None = None
    cached: bool = False
    retries: int = 0
    error: str | None = None
    error_kind: str | None = None
    skip_reason: str | None = None
    #: sha256 of the rendered prompt and the settings that shape output together with
    #: what the answer is checked against (what version-1 baselines pair on).
    fingerprint: str = ""
    prompt: list[dict[str, str]] = field(default_factory=list)
    #: The suite's prompt variant label (``prompts: [{id: ...}]``); "default" for a suite
    #: with one ``prompt:`` / ``messages:``. ``prompt`` above is the rendered messages.
    prompt_id: str = DEFAULT_PROMPT_ID
    #: Halves of ``fingerprint``: the test (vars, assertions, schema, threshold, tools) and
    #: the prompt (rendered messages, generation settings). The gate pairs on the first.
    test_fingerprint: str = ""
    prompt_fingerprint: str = ""
    vars: dict[str, Any] = field(default_factory=dict)
    nodeid: str = ""
    started_at: float = 0.0
    #: The case's ``description`` and ``metadata`` from the suite or dataset.
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The suite's ``derived_metrics`` (name -> expression), so the end of the run (and a
    #: re-rendered report) can compute them per group without the suite file.
    derived_metrics: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its recursive deep copy was the largest per-cell cost of a
        # cached run. The fields are JSON values already; lists and dicts are copied one
        # level so the record does not share them with this object.
        return {
            name: (value.copy() if isinstance(value, list | dict) else value)
            for name in _RESULT_FIELDS
            for value in (getattr(self, name),)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        if data.keys() == _RESULT_FIELD_SET:
            # A whole record of this version (every line it writes): its fields set as they
            # are, ~4x faster than __init__'s 45 keywords (a 50,000-cell report reads them all).
            result = object.__new__(cls)
            for name, value in data.items():
                object.__setattr__(result, name, value)
            return result
        # An older record (fields added since take their defaults) or a newer one (fields
        # this version does not know are left out).
        return cls(**{k: v for k, v in data.items() if k in _RESULT_FIELD_SET})


_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(Result))
_RESULT_FIELD_SET = frozenset(_RESULT_FIELDS)
