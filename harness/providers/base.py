"""The Provider protocol every adapter implements, and the settings it is built from.

An adapter wraps one official SDK. It:
- builds its client once, with SDK retries switched off (the runner owns the single,
  counted retry policy) and the per-call timeout from the Request;
- times the call from the moment the request is sent (queueing happens before ``complete``
  is called, in the runner) and, when streaming, the first content or tool-call delta;
- translates every SDK exception into harness.errors at this boundary;
- raises ``Unsupported`` from ``check`` for a setting it cannot honour (never drops it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from harness.errors import ConfigError
from harness.types import Completion, Request


@dataclass(frozen=True)
class ProviderSettings:
    """How to reach one provider. The key is read from the environment, never from files."""

    name: str
    api_key_env: str | None = None
    base_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None

    def require_key(self) -> str:
        key = self.api_key()
        if key is None:
            raise ConfigError(
                f"{self.name}: no API key. Set the environment variable {self.api_key_env}."
            )
        return key


@runtime_checkable
class Provider(Protocol):
    #: Registry name, e.g. "openai".
    name: ClassVar[str]

    def check(self, request: Request) -> None:
        """Raise harness.errors.Unsupported if ``request`` asks for something this
        provider/model cannot do (so the cell is recorded as unsupported, not sent)."""
        ...

    async def complete(self, request: Request) -> Completion:
        """Send one call; return the normalised completion or raise a ProviderError."""
        ...

    async def aclose(self) -> None:
        """Release clients and connections."""
        ...
