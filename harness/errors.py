"""The one exception hierarchy of llm-harness.

    HarnessError
    ├── ConfigError            bad option, unknown target, missing key, bad price file
    │   └── SuiteError         a suite or dataset file is wrong: names file, line and fix
    ├── ProviderError          a call failed; adapters translate SDK errors into these
    │   ├── RateLimited        429 / overloaded; carries retry_after_s when the server sent one
    │   ├── TransientError     5xx, timeouts, dropped connections, malformed bodies
    │   ├── AuthError          401/403: stop calling this provider for the rest of the run
    │   ├── BadRequest         400/404/422: the request itself is wrong (unknown model, ...)
    │   └── Unsupported        the provider/model cannot honour a setting (e.g. temperature)
    ├── CacheMiss              replay mode and the response is not in the cache
    └── BudgetExceeded         the USD ceiling would be passed by this call

Adapters decide retryability (``ProviderError.retryable``); the runner owns the one
retry loop so every retry is counted and bounded.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error llm-harness raises on purpose."""


class ConfigError(HarnessError):
    """Invalid configuration: an option, target, key or data file. The message says the fix."""


class SuiteError(ConfigError):
    """A suite or dataset file is invalid.

    Rendered as one line block: ``path:line: problem`` then ``fix: ...``.
    """

    def __init__(self, path: str, problem: str, fix: str = "", line: int | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: {self.problem}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class ProviderError(HarnessError):
    """A provider call failed. ``retryable`` tells the runner whether another try may help."""

    retryable = False
    kind = "provider_error"

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        self.provider = provider
        self.status = status
        super().__init__(message)


class RateLimited(ProviderError):
    retryable = True
    kind = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = 429,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after_s = retry_after_s


class TransientError(ProviderError):
    retryable = True
    kind = "transient"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after_s = retry_after_s


class AuthError(ProviderError):
    kind = "auth"


class BadRequest(ProviderError):
    kind = "bad_request"


class Unsupported(ProviderError):
    kind = "unsupported"


class CacheMiss(HarnessError):
    """Replay mode asked for a response that is not in the cache."""


class BudgetExceeded(HarnessError):
    """Issuing this call could pass the run's USD ceiling."""
