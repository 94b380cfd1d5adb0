"""A new provider's client is rehearsed (one call answered in memory) before any call of the
run is timed: the real SDK parses the in-memory answer, nothing reaches the server, and the
transport sends again afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from cloudkit import CLOUD, COMPAT_KEY_ENV, KEY, MODELS, key_env, request

from harness.calls.cache import CacheMode, ResponseCache
from harness.calls.runner import Runner, RunnerSettings
from harness.providers import create_provider
from harness.providers._transport import built_transports
from harness.providers.rehearsal import rehearse
from harness.simulator import Simulator
from harness.suite.targets import TargetSpec


def _target(provider: str, sim: Simulator, **options: object) -> TargetSpec:
    return TargetSpec(
        f"{provider}:{MODELS[provider]}",
        provider,
        MODELS[provider],
        base_url=sim.base_url(provider),
        api_key_env=COMPAT_KEY_ENV if provider == "openai-compatible" else None,
        options={"strict_validation": True, **options},
    )


@pytest.mark.parametrize("provider", CLOUD)
def test_a_rehearsal_goes_through_the_real_sdk_and_sends_nothing(
    provider: str, cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key_env(provider), KEY)
    target = _target(provider, cloud_sim)
    before = cloud_sim.request_count(provider)
    with built_transports() as transports:
        client = create_provider(target.settings())
    assert len(transports) == 1
    # Strict validation on: the SDK accepted the in-memory answer as a real one.
    assert rehearse(client, transports, target.model) is True
    assert cloud_sim.request_count(provider) == before
    assert transports[0].rehearse is None


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_the_runner_rehearses_at_prepare_and_its_calls_still_reach_the_server(
    provider: str, cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(key_env(provider), KEY)
    target = _target(provider, cloud_sim)
    runner = Runner(RunnerSettings(), ResponseCache(tmp_path / "cache", CacheMode.OFF))
    try:
        before = cloud_sim.request_count(provider)
        runner.prepare([target])
        assert cloud_sim.request_count(provider) == before
        outcome = runner.run(target, request(provider, MODELS[provider]))
    finally:
        runner.close()
    assert outcome.error is None and outcome.completion is not None
    assert cloud_sim.request_count(provider) == before + 1


def test_a_provider_on_the_sdks_own_transport_is_not_rehearsed(
    cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    target = _target("openai", cloud_sim, transport="httpx")
    before = cloud_sim.request_count("openai")
    with built_transports() as transports:
        client = create_provider(target.settings())
    assert transports == []
    assert rehearse(client, transports, target.model) is False
    assert cloud_sim.request_count("openai") == before


def test_no_rehearsal_inside_a_running_event_loop(
    cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    target = _target("openai", cloud_sim)
    with built_transports() as transports:
        client = create_provider(target.settings())

    async def inside() -> bool:
        return rehearse(client, transports, target.model)

    assert asyncio.run(inside()) is False  # and no coroutine left un-awaited (warnings fail)
    assert transports[0].rehearse is None
