"""Pre-run token and cost estimates: ``--llm-estimate`` tables and the ``--llm-budget`` check.

No tokenizer is used: tiktoken downloads its encodings at first use, which fails offline,
and the providers' own tokenizers differ anyway. The heuristic, documented here and in
docs/scoring.md:

- text: ``ceil(len(text) / 4)`` tokens (about 4 characters per token for English with
  the GPT/Claude/Llama BPE vocabularies; it overcounts code-free prose slightly);
- each message adds ``MESSAGE_OVERHEAD`` tokens (role and separators) and every request
  ``REQUEST_OVERHEAD`` (the assistant priming), as OpenAI documents for its chat format;
- tools and a native response schema count as their JSON text.

An ``llm-rubric`` assertion adds one judge call per cell (``judge_requests``); its input is
estimated with an output as long as the cell's ``max_tokens`` allows.

The upper bound of one call is its estimated input at the full input price (no prompt-cache
discount) plus ``max_tokens`` output at the output price (or the reasoning price when that
is higher), both at the row's long-context tier when the estimated input exceeds it. The
expected cost assumes ``min(max_tokens, EXPECTED_OUTPUT_TOKENS)`` output tokens, a typical
answer length; it is a guide, the upper bound is what the budget uses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.calls.pricing import PER_TOKENS, Price, PriceTable
from harness.money import usd
from harness.types import Message, Request

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
REQUEST_OVERHEAD = 3
EXPECTED_OUTPUT_TOKENS = 256


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text``: ceil(characters / 4)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_input_tokens(request: Request) -> int:
    """Estimated input tokens of a request: messages, per-message overhead, tools, schema."""
    total = REQUEST_OVERHEAD
    for m in request.messages:
        total += MESSAGE_OVERHEAD + estimate_tokens(m.content)
    for tool in request.tools:
        spec = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        total += estimate_tokens(json.dumps(spec, separators=(",", ":")))
    if request.response_schema is not None and request.structured == "native":
        total += estimate_tokens(json.dumps(request.response_schema, separators=(",", ":")))
    return total


def judge_requests(
    request: Request, specs: Iterable[Mapping[str, Any]], vars: Mapping[str, Any] | None = None
) -> list[tuple[str, Request]]:
    """The judge calls the model-graded assertions in ``specs`` would make for one cell,
    as ``(judge target, Request)`` built like session.judge (rubric prompt, JUDGE_MAX_TOKENS),
    with a placeholder answer of the cell's full ``max_tokens`` length (an upper bound)."""
    from harness.scoring.assertset import flatten
    from harness.scoring.base import ScoreContext, split_type
    from harness.scoring.rubric import (
        JUDGE_MAX_TOKENS,
        MODEL_GRADED,
        build_messages,
        judge_target,
        verdict_format,
    )
    from harness.suite.targets import parse_target

    out: list[tuple[str, Request]] = []
    placeholder = "x" * (request.max_tokens * CHARS_PER_TOKEN)
    ctx = ScoreContext(output=placeholder, vars=dict(vars or {}))
    for spec in flatten(specs):
        if split_type(str(spec.get("type", "")))[0] not in MODEL_GRADED:
            continue
        target = str(judge_target(spec))
        judge = parse_target(target)
        try:
            messages = build_messages(ctx, spec)
        except ValueError:  # a template needing vars we were not given: rubric alone
            messages = build_messages(ScoreContext(output=placeholder), {**spec, "value": "?"})
        out.append((target, Request(
            provider=judge.provider,
            model=judge.model,
            messages=tuple(Message(m["role"], m["content"]) for m in messages),
            max_tokens=JUDGE_MAX_TOKENS,
            **verdict_format(judge.provider),
        )))
    return out


def _output_rate(price: Price) -> float:
    if price.reasoning_output is not None:
        return max(price.output, price.reasoning_output)
    return price.output


def _cost(input_tokens: int, output_tokens: int, price: Price) -> float:
    # A prompt past a long-context threshold bills the whole call at the tier's prices.
    billed = price.billed(input_tokens) or price
    return (input_tokens * billed.input + output_tokens * _output_rate(billed)) / PER_TOKENS


def estimate_request_cost(request: Request, prices: PriceTable) -> float | None:
    """Upper bound in USD of one call (see module docstring); None when unpriced."""
    price = prices.price_for(request.provider, request.model)
    if price is None:
        return None
    return _cost(estimate_input_tokens(request), request.max_tokens, price)


@dataclass
class EstimateRow:
    target: str
    calls: int = 0
    input_tokens: int = 0
    max_output_tokens: int = 0
    expected_output_tokens: int = 0
    #: None when the target is unpriced (never 0).
    expected_usd: float | None = 0.0
    upper_usd: float | None = 0.0
    unpriced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _target_of(item: Request | tuple[str, Request]) -> tuple[str, Request]:
    if isinstance(item, Request):
        return f"{item.provider}:{item.model}", item
    target, request = item
    return str(target), request


def estimate_calls(
    requests: Iterable[Request | tuple[str, Request]],
    prices: PriceTable,
    expected_output_tokens: int = EXPECTED_OUTPUT_TOKENS,
) -> list[EstimateRow]:
    """One row per target (first-seen order). Items are Requests (target named
    ``provider:model``) or ``(target_id, Request)`` pairs."""
    rows: dict[str, EstimateRow] = {}
    for item in requests:
        target, request = _target_of(item)
        row = rows.get(target)
        if row is None:
            row = rows[target] = EstimateRow(target)
        n_in = estimate_input_tokens(request)
        n_expected = min(request.max_tokens, expected_output_tokens)
        row.calls += 1
        row.input_tokens += n_in
        row.max_output_tokens += request.max_tokens
        row.expected_output_tokens += n_expected
        price = prices.price_for(request.provider, request.model)
        if price is None:
            row.unpriced = True
            row.expected_usd = row.upper_usd = None
        elif not row.unpriced:
            row.expected_usd = (row.expected_usd or 0.0) + _cost(n_in, n_expected, price)
            row.upper_usd = (row.upper_usd or 0.0) + _cost(n_in, request.max_tokens, price)
    return list(rows.values())


def format_estimate(rows: list[EstimateRow]) -> str:
    """A fixed-width table with a total line; unpriced targets are named, not counted as $0."""
    header = ("target", "calls", "input tok", "max out tok", "expected", "upper bound")
    body = [
        (
            r.target,
            str(r.calls),
            str(r.input_tokens),
            str(r.max_output_tokens),
            "unpriced" if r.expected_usd is None else usd(r.expected_usd),
            "unpriced" if r.upper_usd is None else usd(r.upper_usd),
        )
        for r in rows
    ]
    priced = [r for r in rows if not r.unpriced]
    unpriced = [r.target for r in rows if r.unpriced]
    total_note = " (priced targets only)" if unpriced else ""
    body.append(
        (
            "total" + total_note,
            str(sum(r.calls for r in rows)),
            str(sum(r.input_tokens for r in rows)),
            str(sum(r.max_output_tokens for r in rows)),
            usd(sum(r.expected_usd or 0.0 for r in priced)),
            usd(sum(r.upper_usd or 0.0 for r in priced)),
        )
    )
    table = [header, *body]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]

    def fmt(line: tuple[str, ...]) -> str:
        cells = [line[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    lines = [fmt(header), "  ".join("-" * w for w in widths)]
    lines += [fmt(line) for line in body[:-1]]
    lines += ["  ".join("-" * w for w in widths), fmt(body[-1])]
    if unpriced:
        lines.append(
            f"warning: no price for {', '.join(unpriced)}: add a row under the price "
            "overrides; cost shown as unpriced, not $0"
        )
    lines.append(
        f"tokens estimated as ceil(chars/{CHARS_PER_TOKEN}) + {MESSAGE_OVERHEAD} per message; "
        f"expected assumes up to {EXPECTED_OUTPUT_TOKENS} output tokens per call"
    )
    return "\n".join(lines)
