"""Fixtures for the simulator tests: a running simulator and real SDK clients pointed at it,
built with strict response validation and no SDK retries."""

from __future__ import annotations

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


def make_clients(s: Simulator, key: str = KEY, timeout: float = 10.0) -> dict[str, Any]:
    import anthropic
    import groq
    import openai
    from mistralai.client import Mistral

    return {
        "openai": openai.OpenAI(
            base_url=s.base_url("openai"),
            api_key=key,
            max_retries=0,
            timeout=timeout,
            _strict_response_validation=True,
        ),
        "anthropic": anthropic.Anthropic(
            base_url=s.base_url("anthropic"),
            api_key=key,
            max_retries=0,
            timeout=timeout,
            _strict_response_validation=True,
        ),
        "groq": groq.Groq(
            base_url=s.base_url("groq"),
            api_key=key,
            max_retries=0,
            timeout=timeout,
            _strict_response_validation=True,
        ),
        "mistral": Mistral(
            api_key=key, server_url=s.base_url("mistral"), timeout_ms=int(timeout * 1000)
        ),
    }


def close_clients(clients: dict[str, Any]) -> None:
    for name, client in clients.items():
        if name == "mistral":
            client.__exit__(None, None, None)
        else:
            client.close()


@pytest.fixture(scope="module")
def clients(sim: Simulator) -> Iterator[dict[str, Any]]:
    made = make_clients(sim)
    yield made
    close_clients(made)


@pytest.fixture
def clients_for() -> Iterator[Callable[..., dict[str, Any]]]:
    made: list[dict[str, Any]] = []

    def make(s: Simulator, **kw: Any) -> dict[str, Any]:
        c = make_clients(s, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        close_clients(c)
