"""Fixtures for the cloud adapter tests: one simulator per module, and ``cloud_call``, which builds
an adapter through the registry (real SDK, strict response validation), makes one call in
a fresh event loop and closes the adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cloudkit import CLOUD, KEY, SIM_CONFIG, key_env, request, run, settings_for

from harness.simulator import Simulator
from harness.types import Completion


@pytest.fixture(scope="module")
def cloud_sim() -> Iterator[Simulator]:
    with Simulator(SIM_CONFIG) as sim:
        yield sim


@pytest.fixture
def cloud_call(cloud_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Completion]:
    """cloud_call(provider, model=None, options=None, **request_fields) against the simulator."""
    for provider in CLOUD:
        monkeypatch.setenv(key_env(provider), KEY)

    def make(
        provider: str,
        model: str | None = None,
        options: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Completion:
        # Target options reach both the adapter's settings and each request, as in a run.
        options = dict(options or {})
        settings = settings_for(provider, cloud_sim.base_url(provider), **options)
        return run(settings, request(provider, model, options=options, **fields))

    return make
