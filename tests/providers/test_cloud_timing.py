"""Provider-side timing (``provider_ms``) through the real SDKs on the simulator: OpenAI's
``openai-processing-ms`` header, Groq's usage timings, Mistral's gateway header; Anthropic
reports none. The simulator reports its scripted latency (plus token time on plain answers),
so each adapter must return exactly that figure, plain and streamed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudkit import CLOUD, KEY, key_env, request, run, settings_for
from cloudkit import MODELS as MODELS_BY

from harness.providers import _common as common
from harness.simulator import Simulator

LATENCY_MS = 40
TOKEN_RATE = 1000.0
CONFIG: dict[str, Any] = {
    "seed": 5,
    "require_key": KEY,
    "default": {"latency_ms": LATENCY_MS, "token_rate": TOKEN_RATE},
}


@pytest.fixture(scope="module")
def timed_sim() -> Iterator[Simulator]:
    with Simulator(CONFIG) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for provider in CLOUD:
        monkeypatch.setenv(key_env(provider), KEY)


def _call(sim: Simulator, provider: str, *, stream: bool, transport: str = "aiohttp") -> Any:
    settings = settings_for(provider, sim.base_url(provider), transport=transport)
    return run(settings, request(provider, stream=stream))


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_header_timing_is_recorded_for_plain_answers(
    timed_sim: Simulator, provider: str, transport: str
) -> None:
    completion = _call(timed_sim, provider, stream=False, transport=transport)
    tokens_ms = completion.usage.output_tokens / TOKEN_RATE * 1000
    assert completion.provider_ms == round(LATENCY_MS + tokens_ms)


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_header_timing_of_a_stream_is_the_time_to_its_headers(
    timed_sim: Simulator, provider: str
) -> None:
    completion = _call(timed_sim, provider, stream=True)
    assert completion.text
    assert completion.provider_ms == LATENCY_MS


@pytest.mark.parametrize("stream", [False, True])
def test_groq_timing_comes_from_its_usage(timed_sim: Simulator, stream: bool) -> None:
    completion = _call(timed_sim, "groq", stream=stream)
    tokens_ms = completion.usage.output_tokens / TOKEN_RATE * 1000
    # queue_time (0.1 ms in the simulator) + total_time (prompt + completion).
    assert completion.provider_ms == pytest.approx(0.1 + LATENCY_MS + tokens_ms, abs=0.01)


def test_anthropic_reports_no_provider_timing(timed_sim: Simulator) -> None:
    assert _call(timed_sim, "anthropic", stream=False).provider_ms is None
    assert _call(timed_sim, "anthropic", stream=True).provider_ms is None


def test_an_openai_compatible_server_sending_the_header_is_read_too(timed_sim: Simulator) -> None:
    # The simulator serves OpenAI-compatible calls on the OpenAI route (llama.cpp's server
    # sends openai-processing-ms as well).
    completion = _call(timed_sim, "openai-compatible", stream=False)
    tokens_ms = completion.usage.output_tokens / TOKEN_RATE * 1000
    assert completion.provider_ms == round(LATENCY_MS + tokens_ms)


def test_absent_or_garbled_timing_is_none_never_zero() -> None:
    assert common.header_ms({"openai-processing-ms": "87"}, "openai-processing-ms") == 87.0
    assert common.header_ms({}, "openai-processing-ms") is None
    assert common.header_ms({"openai-processing-ms": "soon"}, "openai-processing-ms") is None
    assert common.header_ms({"openai-processing-ms": "-3"}, "openai-processing-ms") is None
    assert common.seconds_ms(0.0001, 0.25) == pytest.approx(250.1)
    assert common.seconds_ms(None, "x") is None


def test_building_the_mistral_adapter_loads_what_its_first_call_would(tmp_path: Path) -> None:
    # In a fresh interpreter: the SDK imports its chat module lazily, on first use; the
    # adapter's create() (run off the loop by Runner.prepare) must do it, not the first call.
    code = (
        "import os, sys\n"
        "os.environ['MISTRAL_API_KEY'] = 'k'\n"
        "from harness.providers import create_provider\n"
        "from harness.providers.base import ProviderSettings\n"
        "before = 'mistralai.client.chat' in sys.modules\n"
        "create_provider(ProviderSettings('mistral', 'MISTRAL_API_KEY', 'http://127.0.0.1:9'))\n"
        "print(before, 'mistralai.client.chat' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    assert out == ["False", "True"]


_FIRST_CALLS = """
import asyncio, json, os, sys
from harness.providers import create_provider
from harness.providers.base import ProviderSettings
from harness.types import Message, Request
models = json.loads(sys.argv[1])
urls = json.loads(sys.argv[2])
built = {}
for provider, model in models.items():
    env = provider.upper() + "_API_KEY"
    os.environ[env] = sys.argv[3]
    built[provider] = create_provider(ProviderSettings(provider, env, urls[provider]))
SDKS = ("openai", "anthropic", "groq", "mistralai", "anyio", "httpx", "pydantic", "harness")
found = {}
async def go():
    for stream in (False, True):
        for provider, adapter in built.items():
            before = set(sys.modules)
            await adapter.complete(Request(
                provider=provider, model=models[provider], messages=(Message("user", "hi"),),
                max_tokens=20, stream=stream, timeout_s=10))
            new = sorted(m for m in set(sys.modules) - before if m.startswith(SDKS))
            found[f"{provider} stream={stream}"] = new
    for adapter in built.values():
        await adapter.aclose()
asyncio.run(go())
print(json.dumps(found))
"""


def test_the_first_calls_import_nothing_the_build_could_have(timed_sim: Simulator) -> None:
    # Everything an adapter's first plain or streamed call would import lazily (on the
    # runner's loop, inside a timing window) is imported by create(), off the loop.
    models = {p: MODELS_BY[p] for p in ("openai", "anthropic", "groq", "mistral")}
    urls = {p: timed_sim.base_url(p) for p in models}
    proc = subprocess.run(
        [sys.executable, "-c", _FIRST_CALLS, json.dumps(models), json.dumps(urls), KEY],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found == {name: [] for name in found} and len(found) == 8
