"""Where a provider key may be sent: a suite file must not redirect a standard key.

A suite is edited in pull requests, so a target's ``base_url`` in it is untrusted. A
standard provider's key (OPENAI_API_KEY, ...) goes to a suite-given URL only when that URL
is the provider's own host or loopback, or when the suite names the key variable itself
(``api_key_env:``), which makes the choice visible in review. Base URLs from the environment
(OPENAI_BASE_URL, ...) are set by the person running and are not checked.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from harness.providers import PROVIDERS

_URL_FIX = "write it as http(s)://host[:port]/path, e.g. https://api.example.com/v1"


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_problem(
    provider: str, base_url: object, api_key_env: object
) -> tuple[str, str] | None:
    """(problem, fix) when a suite target's base_url / api_key_env pair is refused."""
    if base_url is None:
        return None
    if not isinstance(base_url, str) or not base_url.strip():
        return f"target base_url must be a URL string, got {base_url!r}", _URL_FIX
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"target base_url {base_url!r} is not an http(s) URL", _URL_FIX
    if api_key_env is not None:
        return None  # the suite names the key it sends there
    info = PROVIDERS[provider]
    if info.api_key_env is None:
        return None  # no standard key to leak (openai-compatible, local)
    host = parts.hostname.lower()
    own = urlsplit(info.default_base_url or "").hostname
    if host == own or _loopback(host):
        return None
    return (
        f"target base_url {base_url!r} is not {provider}'s own host ({own}) nor loopback, so "
        f"it would receive {info.api_key_env}",
        f"name the key to send there with `api_key_env: SOME_VAR` in this target, or set "
        f"{info.base_url_env} in the environment instead of in the suite",
    )
