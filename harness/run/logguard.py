"""Logs never carry prompts or API keys unless the user asks (``--llm-log-prompts``).

At DEBUG the provider SDKs (openai, anthropic, groq, mistralai) and the HTTP clients under
them log whole request bodies (system and user prompts) and headers (a key echoed by a
server). A log level is set by whoever configures logging (``--log-level=DEBUG``,
``log_cli``, the library user), so filtering by level is not enough: ``install`` wraps the
process's LogRecord factory, which every logger uses whatever its handlers. Records of the
SDK and HTTP loggers below WARNING are replaced by a one-line note, and in every record the
values of secret-looking environment variables (``*_KEY``, ``*TOKEN*``, ``*SECRET*``) are
masked. A factory, not a logging.Filter: filters on a logger do not see its children's
records, and handlers come and go (pytest adds its own per test).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

from harness.providers import sdk_modules

#: Loggers that print request bodies or headers at DEBUG/INFO: the SDKs' and the HTTP
#: libraries' under them.
NOISY = (*sdk_modules(), "httpx", "httpcore", "httpx2", "httpcore2", "aiohttp", "urllib3",
         "h11", "hpack")
HIDDEN = "(SDK/HTTP debug record hidden: it can contain prompts; --llm-log-prompts shows it)"
_SECRET_NAME = re.compile(r"(_KEY$|KEY_|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
#: Shorter values are not masked (a "1" would mask every digit).
_MIN_SECRET = 8

_lock = threading.Lock()
_installed: dict[str, Any] = {}


def secrets_in_env(env: os._Environ[str] | dict[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET}
    return sorted(values, key=len, reverse=True)


def _noisy(name: str) -> bool:
    return any(name == n or name.startswith(n + ".") for n in NOISY)


def install(log_prompts: bool = False) -> None:
    """Guard every log record of this process from now on (idempotent; the last call's
    ``log_prompts`` wins)."""
    with _lock:
        _installed["log_prompts"] = log_prompts
        _installed["secrets"] = secrets_in_env()
        if "previous" in _installed:
            return
        previous = logging.getLogRecordFactory()
        _installed["previous"] = previous

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            return guard(record)

        logging.setLogRecordFactory(factory)


def guard(record: logging.LogRecord) -> logging.LogRecord:
    if not _installed.get("log_prompts") and record.levelno < logging.WARNING and _noisy(
        record.name
    ):
        record.msg, record.args = HIDDEN, None
        return record
    secrets: list[str] = _installed.get("secrets") or []
    if not secrets:
        return record
    try:
        text = record.getMessage()
    except Exception:  # a malformed record is logging's own problem to report
        return record
    masked = text
    for secret in secrets:
        if secret in masked:
            masked = masked.replace(secret, "***")
    if masked != text:
        record.msg, record.args = masked, None
    return record
