"""The ``llm-harness simulate --demo`` script: four models with a real trade-off.

Each demo model has its own scripted quality (the share of the starter dataset's cases it
gets wrong, the share of its JSON cut off before the closing brace), latency and token rate;
prices are the shipped price table's for those models. Answers are keyed on text of each
case's prompt (what the harness sends), so the starter suite written by ``llm-harness init``
gets per-case answers: right ones, and for a fixed set of cases per model wrong ones.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

#: model -> (wrong share, invalid JSON share, latency mean ms, jitter ms, tokens/s)
DEMO_MODELS: dict[str, tuple[float, float, float, float, float]] = {
    "openai:gpt-4o-mini": (0.1, 0.0, 700.0, 150.0, 90.0),
    "anthropic:claude-haiku-4-5": (0.0, 0.0, 1100.0, 200.0, 110.0),
    "groq:llama-3.1-8b-instant": (0.35, 0.1, 180.0, 40.0, 700.0),
    "mistral:mistral-small-latest": (0.2, 0.05, 450.0, 100.0, 150.0),
}


def _starter_cases() -> list[dict[str, Any]]:
    text = resources.files("harness").joinpath("data", "starter", "contacts.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _wrong(answer: dict[str, Any]) -> dict[str, Any]:
    """A plausible mistake: the email's domain mangled, the name's parts swapped."""
    first, _, last = str(answer["name"]).partition(" ")
    email = str(answer["email"] or "").replace("@", "@mail.")
    return {**answer, "name": f"{last}, {first}" if last else first, "email": email}


def _order(model: str, case_id: str) -> str:
    # A fixed, model-specific order of the cases, so each model errs on its own cases.
    return hashlib.sha256(f"{model}/{case_id}".encode()).hexdigest()


def demo_config() -> dict[str, Any]:
    """The simulator script (``SimConfig.from_mapping`` input) of the demo."""
    cases = _starter_cases()
    models: dict[str, Any] = {}
    for model, (wrong, invalid, mean, jitter, rate) in DEMO_MODELS.items():
        ranked = sorted(cases, key=lambda c: _order(model, c["id"]))
        wrong_ids = {c["id"] for c in ranked[: round(wrong * len(cases))]}
        canned = {}
        for case in cases:
            v = case["vars"]
            right = {"name": v["name"], "email": v["email"], "company": v["company"]}
            canned[v["text"]] = _wrong(right) if case["id"] in wrong_ids else right
        models[model] = {
            "latency_ms": {"mean": mean, "jitter": jitter},
            "token_rate": rate,
            "invalid_json_rate": invalid,
            "canned": canned,
        }
    return {"seed": 7, "default": {"latency_ms": 200}, "models": models}
