"""Plain pytest tests that call models: ``@pytest.mark.llm(targets=[...], temperatures=[...],
repeat=N)`` parametrizes a test, and the ``llm`` fixture is its client for one cell; the
``llm_simulator`` fixture runs the provider simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.config import OPTIONS_BY_NAME, resolve_value
from harness.pytest_plugin.state import SESSION_KEY
from harness.suite.targets import TargetProblem, parse_target, selected


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("llm")
    if marker is None or "llm" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[SESSION_KEY]
    targets = marker.kwargs.get("targets") or (marker.args[0] if marker.args else None)
    if not targets:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.llm needs targets=['provider:model', ...]"
        )
    temperatures = marker.kwargs.get("temperatures", [None])
    repeat = (
        resolve_value(
            OPTIONS_BY_NAME["repeat"],
            cli=session.settings.repeat,
            suite=marker.kwargs.get("repeat"),
        )
        or 1
    )
    params = []
    for raw in targets:
        try:
            target = parse_target(raw)
        except TargetProblem as exc:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {exc}") from None
        if not selected(target, session.settings.targets):
            continue
        for temp in temperatures:
            for r in range(repeat):
                temp_id = "tdefault" if temp is None else f"t{temp:g}"
                params.append(
                    pytest.param(
                        (target, temp, r),
                        id=f"{target.id}-{temp_id}-r{r}",
                        marks=getattr(pytest.mark, target.marker),
                    )
                )
    metafunc.parametrize("llm", params, indirect=True)


@pytest.fixture
def llm(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A cached, recorded LLM client bound to one target x temperature x repeat.

    ``llm.complete(prompt, system=..., schema=..., max_tokens=...)`` returns an LLMResponse
    (``.text``, ``.json()``, ``.completion``, ``.cached``, ``.cost_usd``); every call is
    recorded in results.jsonl under suite "pytest" with the test's node id as the case.
    """
    from harness.api import CellClient

    param = getattr(request, "param", None)
    if param is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the llm fixture needs @pytest.mark.llm(targets=[...])"
        )
    target, temperature, repeat = param
    session = request.config.stash[SESSION_KEY]
    env = target.missing_key()
    if env and not session.settings.cache.offline:
        pytest.skip(f"{target.id}: {env} is not set; set it to run this target")
    node = request.node
    node.llm_results = []
    client = CellClient(
        session,
        target,
        temperature,
        repeat,
        case_id=node.nodeid,
        # Looked up at each call: the list is moved to the report after each phase.
        on_result=lambda r: node.llm_results.append(r),
    )
    yield client


@pytest.fixture
def llm_simulator() -> Iterator[Any]:
    """A running provider simulator (harness.simulator.Simulator) on 127.0.0.1."""
    from harness.simulator import Simulator

    with Simulator() as sim:
        yield sim
