"""Helpers for report tests: Result records built in memory and runs written to disk the
way RunStore writes them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.results.store import RunStore
from harness.types import Result

XSS = "<script>alert(1)</script>"


def make_result(**overrides: Any) -> Result:
    target = overrides.pop("target", "openai:gpt-4o-mini")
    provider, _, model = target.partition(":")
    status = overrides.pop("status", "passed")
    base: dict[str, Any] = {
        "run_id": "run-a",
        "suite": "qa",
        "case_id": "c1",
        "target": target,
        "provider": provider,
        "model": model,
        "temperature": 0.0,
        "repeat": 0,
        "status": status,
        "passed": status == "passed",
        "output": "Paris",
        "scores": [
            {
                "name": "contains",
                "passed": status == "passed",
                "value": None,
                "reason": "" if status == "passed" else "output lacks 'Paris'",
                "weight": 1.0,
            }
        ],
        "latency_ms": 420.0,
        "ttft_ms": 120.0,
        "tokens_per_s": 55.0,
        "input_tokens": 40,
        "output_tokens": 12,
        "cost_usd": 0.0001,
        "cost_if_live_usd": 0.0001,
        "prompt": [{"role": "user", "content": "Capital of France?"}],
        "vars": {"country": "France"},
        "fingerprint": "f" * 16,
    }
    base.update(overrides)
    return Result(**base)


def sample_results(run_id: str = "run-a", targets: Iterable[str] = ()) -> list[Result]:
    """A small but varied run: two suites, three targets, passes, failures, an error, a
    replayed cell, an unpriced target and output that is HTML."""
    targets = list(targets) or ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku", "local:gemma"]
    out = []
    for suite in ("qa", "extract"):
        for i in range(4):
            for t in targets:
                status = "failed" if (i + len(t)) % 3 == 0 else "passed"
                if i == 3 and t == targets[0]:
                    status = "error"
                priced = not t.startswith("local:")
                out.append(
                    make_result(
                        run_id=run_id,
                        suite=suite,
                        case_id=f"case-{i}",
                        target=t,
                        status=status,
                        output=None if status == "error" else f"answer {i} {XSS}",
                        error="server said 503" if status == "error" else None,
                        error_kind="transient" if status == "error" else None,
                        schema_valid=(i != 1) if suite == "extract" else None,
                        cached=(i == 0),
                        cost_usd=0.0 if i == 0 or not priced else 0.0002,
                        cost_if_live_usd=0.0002 if priced else None,
                        latency_ms=100.0 + 50 * i + 10 * len(t),
                        prompt=[{"role": "user", "content": f"question {i} </script><b>bold</b>"}],
                    )
                )
    return out


META = {
    "run_id": "run-a",
    "started_at": 1764000000.0,
    "finished_at": 1764000042.0,
    "git_commit": "abc1234",
    "versions": {"harness": "0.1.0", "python": "3.11.9", "openai": "1.99.0"},
    "price_table_date": "2026-11-01",
    "argv": ["evals"],
    "cache_mode": "use",
}


def write_run(directory: Path, results: list[Result], meta: dict[str, Any] | None) -> Path:
    store = RunStore(directory)
    for r in results:
        store.append(r)
    store.close()
    if meta is not None:
        store.write_json("meta.json", meta)
    return directory


def blob(html: str) -> dict[str, Any]:
    """The JSON data blob embedded in report.html."""
    start = html.index('<script type="application/json" id="report-data">')
    start = html.index(">", start) + 1
    end = html.index("</script>", start)
    data: dict[str, Any] = json.loads(html[start:end])
    return data
