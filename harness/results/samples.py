"""The rendered prompt of each (suite, prompt variant)'s first case, by case id: what the
gate's template diff shows when a variant's prompt changed against its baseline.

Kept as results arrive (RunSession.record), so the end of a run needs no rendered prompt
of any other cell (it holds them slim, see RunSession.record); prompt_samples() folds a
whole run the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.types import DEFAULT_PROMPT_ID, Result


class PromptSamples:
    def __init__(self) -> None:
        #: (suite, variant) -> (case id, rendered messages) of the least case id so far.
        self._first: dict[tuple[str, str], tuple[str, list[dict[str, str]]]] = {}

    def add(self, r: Result) -> None:
        if not r.prompt:
            return
        key = (r.suite, getattr(r, "prompt_id", None) or DEFAULT_PROMPT_ID)
        held = self._first.get(key)
        if held is None or r.case_id < held[0]:
            self._first[key] = (r.case_id, r.prompt)

    def rows(self) -> list[dict[str, Any]]:
        """One row per (suite, variant), sorted, as baselines store them."""
        return [
            {
                "suite": suite,
                "prompt": prompt,
                "case": case,
                "messages": [[str(m.get("role", "")), str(m.get("content", ""))] for m in messages],
            }
            for (suite, prompt), (case, messages) in sorted(self._first.items())
        ]


def prompt_samples(results: Iterable[Result]) -> list[dict[str, Any]]:
    samples = PromptSamples()
    for r in results:
        samples.add(r)
    return samples.rows()
