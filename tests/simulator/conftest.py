"""Fixtures for the simulator tests: a running simulator and real SDK clients pointed at it,
built with strict response validation and no SDK retries."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.simulator import Simulator

KEY = "sk-sim-test"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator({"default": {"latency_ms": {"min": 0, "max": 5}}}) as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[Callable[..., Simulator]]:
    """Factory for a simulator with a test-specific config, stopped at teardown."""
    started: list[Simulator] = []

    def make(config: Any = None) -> Simulator:
        s = Simulator(config).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


class Clients(dict[str, Any]):
    """provider -> SDK client, each built on first use (an SDK client costs tens of ms)."""

    def __init__(self, sim: Simulator, key: str = KEY, timeout: float = 10.0) -> None:
        super().__init__()
        self.sim, self.key, self.timeout = sim, key, timeout

    def __missing__(self, provider: str) -> Any:
        client = self._build(provider)
        self[provider] = client
        return client

    def _build(self, provider: str) -> Any:
        s, key, timeout = self.sim, self.key, self.timeout
        if provider == "mistral":
            from mistralai.client import Mistral

            return Mistral(
                api_key=key, server_url=s.base_url("mistral"), timeout_ms=int(timeout * 1000)
            )
        module = importlib.import_module(provider)
        cls = {"openai": "OpenAI", "anthropic": "Anthropic", "groq": "Groq"}[provider]
        return getattr(module, cls)(
            base_url=s.base_url(provider),
            api_key=key,
            max_retries=0,
            timeout=timeout,
            _strict_response_validation=True,
        )

    def close(self) -> None:
        for name, client in self.items():
            if name == "mistral":
                client.__exit__(None, None, None)
            else:
                client.close()


@pytest.fixture(scope="module")
def clients(sim: Simulator) -> Iterator[dict[str, Any]]:
    made = Clients(sim)
    yield made
    made.close()


@pytest.fixture
def clients_for() -> Iterator[Callable[..., dict[str, Any]]]:
    made: list[Clients] = []

    def make(s: Simulator, **kw: Any) -> Clients:
        c = Clients(s, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
