"""Test-wide guards: a private cache dir per test, no API keys from the developer's shell,
and no network connection anywhere but loopback."""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import pkgutil
import socket
from collections.abc import Iterator
from typing import Any

import pytest

# pytester's in-process runs drop every module first imported inside the inner run. Modules
# with native state (numpy under matplotlib/pandas) cannot be imported twice, and an SDK
# imported twice has two copies of its exception classes, so an adapter's error mapping
# would miss them. Importing them once here keeps one copy for the whole session.
_PRELOAD = (
    # The plugin loads the pipeline lazily; load it here, before any inner run, so a
    # C extension such as libyaml's is never imported a second time.
    "yaml",
    "harness.suite.loader",
    "harness.scoring",
    "harness.calls.runner",
    "harness.run.worker.client",
    "harness.gate",
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "pyarrow",
    "httpx",
    "httpx2",
    "openai",
    "anthropic",
    "groq",
    "mistralai",
    "harness.providers.openai",
    "harness.providers.anthropic",
    "harness.providers.groq",
    "harness.providers.mistral",
    "harness.providers.openai_compatible",
    "harness.report",
)
#: Packages the SDKs import lazily, on their first request: loaded whole.
_PRELOAD_WHOLE = ("h11", "httpcore", "httpcore2")
for _name in _PRELOAD:
    # An optional extra that is not installed: its tests skip.
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)
for _name in _PRELOAD_WHOLE:
    try:
        _package = importlib.import_module(_name)
    except ImportError:
        continue
    for _info in pkgutil.walk_packages(_package.__path__, _name + "."):
        # Optional backends (trio, socks) that are not installed.
        with contextlib.suppress(ImportError):
            importlib.import_module(_info.name)

KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY",
            "AZURE_OPENAI_API_KEY")
URL_VARS = (
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "GROQ_BASE_URL",
    "MISTRAL_BASE_URL",
    "OPENAI_COMPATIBLE_BASE_URL",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost":
                raise ConnectionRefusedError(
                    f"tests may only connect to loopback, not {host!r}"
                ) from None
            return
        if not ip.is_loopback:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _loopback_only(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _loopback_only(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    for var in KEY_VARS + URL_VARS:
        monkeypatch.delenv(var, raising=False)
    # Under GitHub Actions the gate would append every inner run's verdicts to the real
    # step summary; a test that wants it sets its own file.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("LLM_HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("llm-cache")))
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield
