"""A loopback server that speaks the OpenAI, Anthropic, Groq and Mistral wire protocols,
with scripted answers, latency and fault injection, so adapters and runs can be tested
end to end with the real SDKs and no network.

    with Simulator({"default": {"latency_ms": 5}}) as sim:
        client = openai.OpenAI(base_url=sim.base_url("openai"), api_key="sk-test")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.simulator.config import SimConfig
    from harness.simulator.simulator import Simulator

__all__ = ["SimConfig", "Simulator"]


def __getattr__(name: str) -> Any:
    # Lazy: a run's rehearsal (harness.providers.rehearsal) uses the wire modules of this
    # package, and must not import the aiohttp server with them.
    if name == "SimConfig":
        from harness.simulator.config import SimConfig

        return SimConfig
    if name == "Simulator":
        from harness.simulator.simulator import Simulator

        return Simulator
    raise AttributeError(name)
