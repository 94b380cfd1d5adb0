"""Build Result records directly for gate unit tests."""

from __future__ import annotations

from typing import Any

from harness.types import Result


def cell(
    case: str,
    passed: bool = True,
    *,
    suite: str = "s",
    target: str = "openai:gpt-4o-mini",
    temperature: float | None = 0.0,
    repeat: int = 0,
    schema_valid: bool | None = None,
    latency_ms: float | None = 500.0,
    cost: float | None = 0.001,
    fingerprint: str | None = None,
    status: str | None = None,
    **extra: Any,
) -> Result:
    provider, _, model = target.partition(":")
    return Result(
        run_id="r",
        suite=suite,
        case_id=case,
        target=target,
        provider=provider,
        model=model,
        temperature=temperature,
        repeat=repeat,
        status=status or ("passed" if passed else "failed"),  # type: ignore[arg-type]
        passed=passed,
        schema_valid=schema_valid,
        latency_ms=latency_ms,
        cost_usd=cost,
        cost_if_live_usd=cost,
        fingerprint=fingerprint if fingerprint is not None else f"fp-{case}",
        scores=[{"name": "contains", "passed": passed, "value": None, "reason": "", "weight": 1.0}],
        **extra,
    )


def run(outcomes: list[bool], **kw: Any) -> list[Result]:
    """One single-sample cell per case: case i passes when outcomes[i]."""
    return [cell(f"c{i:03d}", ok, **kw) for i, ok in enumerate(outcomes)]
