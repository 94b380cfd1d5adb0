"""latency and cost scorers.

On a replayed (cached) result both judge the original live figures stored with the cache
entry, and say so in the reason: a cache hit takes ~0 ms and costs nothing, which would
make every limit pass and hide a regression.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.money import usd
from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import need_number
from harness.types import Score

_CACHED_NOTE = " (original live figure; this result was replayed from the cache)"


def _validate_latency(spec: Mapping[str, Any]) -> str | None:
    if "max_ms" not in spec and "max_ttft_ms" not in spec:
        return "latency: needs 'max_ms' (whole call) and/or 'max_ttft_ms' (first token)"
    return need_number("max_ms", required=False)(spec) or need_number(
        "max_ttft_ms", required=False
    )(spec)


@scorer("latency", validate=_validate_latency, keys=("max_ms", "max_ttft_ms"))
def latency(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """Total latency <= ``max_ms`` and time to first token <= ``max_ttft_ms``. The value is
    the total latency in ms (or the TTFT when only ``max_ttft_ms`` is given)."""
    note = _CACHED_NOTE if ctx.cached else ""
    parts: list[str] = []
    ok = True
    value: float | None = None
    if "max_ms" in spec:
        limit = float(spec["max_ms"])
        value = ctx.latency_ms
        if value is None:
            return Score("latency", False, None, f"no latency measured{note}")
        ok = value <= limit
        parts.append(f"{value:.0f} ms vs max {limit:.0f} ms")
    if "max_ttft_ms" in spec:
        limit = float(spec["max_ttft_ms"])
        ttft = ctx.ttft_ms
        if ttft is None:
            return Score("latency", False, value,
                         "no time to first token: it is measured on streaming calls only "
                         f"(set 'stream: true'){note}")
        ok = ok and ttft <= limit
        parts.append(f"TTFT {ttft:.0f} ms vs max {limit:.0f} ms")
        if value is None:
            value = ttft
    if not ok:
        parts.append(_stall_note(ctx, spec))
    return Score("latency", ok, value, ", ".join(p for p in parts if p) + note)


def _stall_note(ctx: ScoreContext, spec: Mapping[str, Any]) -> str:
    """When the runner's loop stalled inside this call for longer than the limit was missed
    by, the miss may be the client's, not the provider's: say so (the verdict stands)."""
    stall = ctx.completion.stall_ms if ctx.completion is not None else 0.0
    if not stall:
        return ""
    misses = []
    if "max_ms" in spec and ctx.latency_ms is not None:
        misses.append(ctx.latency_ms - float(spec["max_ms"]))
    if "max_ttft_ms" in spec and ctx.ttft_ms is not None:
        misses.append(ctx.ttft_ms - float(spec["max_ttft_ms"]))
    missed_by = max(misses, default=0.0)
    if missed_by <= 0 or missed_by > stall:
        return ""
    shown = f"{stall / 1000:.1f} s" if stall >= 1000 else f"{stall:.0f} ms"
    return f"timing unreliable: {shown} client stall"


@scorer("cost", validate=need_number("max_usd"), keys=("max_usd",))
def cost(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """This call's cost in USD <= ``max_usd``; an unpriced model fails (cost unknown)."""
    limit = float(spec["max_usd"])
    note = _CACHED_NOTE if ctx.cached else ""
    if ctx.cost_usd is None:
        return Score("cost", False, None,
                     f"cost unknown: the model has no price (add one to the price "
                     f"overrides) or the provider returned no usage{note}")
    ok = ctx.cost_usd <= limit
    return Score("cost", ok, ctx.cost_usd, f"{usd(ctx.cost_usd)} vs max {usd(limit)}{note}")
