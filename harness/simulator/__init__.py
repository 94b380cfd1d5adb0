"""A loopback server that speaks the OpenAI, Anthropic, Groq and Mistral wire protocols,
with scripted answers, latency and fault injection, so adapters and runs can be tested
end to end with the real SDKs and no network.

    with Simulator({"default": {"latency_ms": 5}}) as sim:
        client = openai.OpenAI(base_url=sim.base_url("openai"), api_key="sk-test")
"""

from harness.simulator.config import SimConfig
from harness.simulator.simulator import Simulator

__all__ = ["SimConfig", "Simulator"]
