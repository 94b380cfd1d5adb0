"""The runner driving real adapters against the simulator: retryable failures are retried
under its policy (honouring Retry-After) and counted; an auth failure is not retried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit import KEY, key_env, request

from harness.calls.cache import CacheMode, ResponseCache
from harness.calls.retry import RetryPolicy
from harness.calls.runner import Runner, RunnerSettings
from harness.errors import AuthError
from harness.simulator import Simulator
from harness.suite.targets import TargetSpec


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    policy = RetryPolicy(max_retries=3, base_s=0.01, max_backoff_s=0.02)
    r = Runner(RunnerSettings(retry=policy), ResponseCache(tmp_path / "cache", CacheMode.OFF))
    yield r
    r.close()


@pytest.fixture(scope="module")
def quick_sim() -> Iterator[Simulator]:
    with Simulator({"require_key": KEY, "retry_after_s": 0.05}) as sim:
        yield sim


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("fault", ["fault-429x2", "fault-500x2"])
def test_retryable_faults_are_retried_and_counted(
    provider: str, fault: str, runner: Runner, quick_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key_env(provider), KEY)
    target = TargetSpec(
        f"{provider}:{fault}",
        provider,
        fault,
        base_url=quick_sim.base_url(provider),
        options={"strict_validation": True},
    )
    before = quick_sim.request_count(provider, fault)
    outcome = runner.run(target, request(provider, fault))
    assert outcome.error is None
    assert outcome.completion is not None and outcome.completion.text
    assert outcome.retries == 2
    assert quick_sim.request_count(provider, fault) == before + 3


def test_an_auth_failure_is_not_retried(
    runner: Runner, quick_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "sk-not-the-right-one")
    target = TargetSpec("groq:m", "groq", "m", base_url=quick_sim.base_url("groq"))
    before = quick_sim.request_count("groq")
    outcome = runner.run(target, request("groq", "m"))
    assert isinstance(outcome.error, AuthError)
    assert outcome.retries == 0
    assert quick_sim.request_count("groq") == before + 1
