"""Every failure the simulator can inject, through each adapter and its real SDK, leaves as
the right harness error (and retryable ones carry what the runner needs)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from cloudkit import CLOUD, KEY, SIM_CONFIG, key_env, request, run, settings_for

from harness.errors import (
    AuthError,
    BadRequest,
    ProviderError,
    RateLimited,
    TransientError,
)
from harness.simulator import Simulator
from harness.types import Completion

Call = Callable[..., Completion]
BOTH = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
EACH = pytest.mark.parametrize("provider", CLOUD)


def fails(cloud_call: Call, provider: str, model: str, **fields: object) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        cloud_call(provider, model, **fields)
    assert info.value.provider == provider
    assert KEY not in str(info.value)
    return info.value


@BOTH
@EACH
def test_429_is_rate_limited_with_the_servers_retry_after(
    provider: str, stream: bool, cloud_call: Call
) -> None:
    err = fails(cloud_call, provider, "fault-429", stream=stream)
    assert type(err) is RateLimited
    assert err.retryable
    assert err.status == 429
    assert err.retry_after_s == pytest.approx(2.5)


@BOTH
@EACH
@pytest.mark.parametrize("code", [500, 503])
def test_5xx_is_transient(provider: str, stream: bool, code: int, cloud_call: Call) -> None:
    err = fails(cloud_call, provider, f"fault-{code}", stream=stream)
    assert type(err) is TransientError
    assert err.retryable
    assert err.status == code


@BOTH
def test_anthropic_529_overloaded_is_retryable(stream: bool, cloud_call: Call) -> None:
    err = fails(cloud_call, "anthropic", "fault-529", stream=stream)
    assert type(err) is RateLimited
    assert err.retryable
    assert err.status == 529
    assert "overloaded" in str(err)


@BOTH
@EACH
def test_a_hang_past_the_timeout_is_transient(
    provider: str, stream: bool, cloud_call: Call
) -> None:
    err = fails(cloud_call, provider, "fault-hang", stream=stream, timeout_s=0.3)
    assert type(err) is TransientError
    assert err.retryable
    assert "0.3 s" in str(err)


@BOTH
@EACH
def test_a_malformed_body_is_transient(provider: str, stream: bool, cloud_call: Call) -> None:
    err = fails(cloud_call, provider, "fault-malformed", stream=stream)
    assert type(err) is TransientError
    assert "malformed" in str(err)


@EACH
def test_a_truncated_stream_is_transient(provider: str, cloud_call: Call) -> None:
    err = fails(cloud_call, provider, "fault-truncated_stream", stream=True)
    assert type(err) is TransientError
    assert "truncated" in str(err)


@EACH
def test_a_mid_stream_error_event_is_transient(provider: str, cloud_call: Call) -> None:
    err = fails(cloud_call, provider, "fault-midstream_error", stream=True)
    assert type(err) is TransientError
    assert "mid-stream" in str(err)


@BOTH
@EACH
def test_401_is_an_auth_error(provider: str, stream: bool, cloud_call: Call) -> None:
    err = fails(cloud_call, provider, "fault-401", stream=stream)
    assert type(err) is AuthError
    assert not err.retryable
    assert err.status == 401


@BOTH
@EACH
def test_404_says_the_model_is_unknown(provider: str, stream: bool, cloud_call: Call) -> None:
    err = fails(cloud_call, provider, "fault-404", stream=stream)
    assert type(err) is BadRequest
    assert not err.retryable
    assert err.status == 404
    assert f"model 'fault-404' is unknown to {provider}" in str(err)


@EACH
def test_400_is_a_bad_request(provider: str, cloud_call: Call) -> None:
    err = fails(cloud_call, provider, "fault-400")
    assert type(err) is BadRequest
    assert err.status == 400


@pytest.fixture(scope="module")
def reset_sim() -> Simulator:
    # truncate_mode reset: the connection drops mid-body instead of ending cleanly.
    with Simulator({**SIM_CONFIG, "truncate_mode": "reset"}) as sim:
        yield sim


@EACH
def test_a_dropped_connection_mid_stream_is_transient(
    provider: str, reset_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key_env(provider), KEY)
    settings = settings_for(provider, reset_sim.base_url(provider))
    with pytest.raises(TransientError):
        run(settings, request(provider, "fault-truncated_stream", stream=True))


@EACH
def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(
    provider: str, cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-wrong-key-5b1d0e"
    monkeypatch.setenv(key_env(provider), wrong)
    settings = settings_for(provider, cloud_sim.base_url(provider))
    with pytest.raises(AuthError) as info:
        run(settings, request(provider))
    assert wrong not in str(info.value)
    assert wrong not in repr(info.value.__cause__ or "")


@EACH
def test_nothing_listening_is_transient(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(key_env(provider), KEY)
    settings = settings_for(provider, f"http://127.0.0.1:{port}/v1")
    with pytest.raises(TransientError, match="connection failed"):
        run(settings, request(provider))
