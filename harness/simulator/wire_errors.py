"""Provider-shaped error responses: status, body and headers for each failure the simulator
produces, in the shape each SDK maps to its own exception classes."""

from __future__ import annotations

from typing import Any

#: situation -> (OpenAI/Groq type, code, Anthropic type, Mistral type, default message)
_CATALOGUE: dict[str, tuple[str, str | None, str, str, str]] = {
    "invalid_request": (
        "invalid_request_error",
        None,
        "invalid_request_error",
        "invalid_request_error",
        "Invalid request.",
    ),
    "auth": (
        "invalid_request_error",
        "invalid_api_key",
        "authentication_error",
        "authentication_error",
        "Incorrect API key provided.",
    ),
    "not_found": (
        "invalid_request_error",
        "model_not_found",
        "not_found_error",
        "invalid_model",
        "The model does not exist or you do not have access to it.",
    ),
    "rate_limit": (
        "requests",
        "rate_limit_exceeded",
        "rate_limit_error",
        "rate_limited",
        "Rate limit reached (simulated). Please try again later.",
    ),
    "server_error": (
        "server_error",
        None,
        "api_error",
        "internal_server_error",
        "The server had an error while processing your request (simulated).",
    ),
    "unavailable": (
        "server_error",
        None,
        "api_error",
        "service_unavailable",
        "The server is overloaded or not ready yet (simulated).",
    ),
    "overloaded": (
        "server_error",
        None,
        "overloaded_error",
        "service_unavailable",
        "Overloaded (simulated).",
    ),
}


def error_body(provider: str, situation: str, request_id: str, message: str = "") -> Any:
    oa_type, code, an_type, mi_type, default = _CATALOGUE[situation]
    text = message or default
    if provider == "anthropic":
        return {
            "type": "error",
            "error": {"type": an_type, "message": text},
            "request_id": request_id,
        }
    if provider == "mistral":
        return {"object": "error", "message": text, "type": mi_type, "param": None, "code": code}
    return {"error": {"message": text, "type": oa_type, "param": None, "code": code}}


def status_for(provider: str, situation: str) -> int:
    return {
        "invalid_request": 400,
        "auth": 401,
        "not_found": 404,
        "rate_limit": 429,
        "server_error": 500,
        "unavailable": 503,
        # Only Anthropic has a dedicated status for overload; the others answer 503.
        "overloaded": 529 if provider == "anthropic" else 503,
    }[situation]


def stream_error_kind(provider: str) -> str:
    """Error type a mid-stream failure carries."""
    return "overloaded_error" if provider == "anthropic" else "server_error"


def request_id_header(provider: str) -> str:
    return "request-id" if provider == "anthropic" else "x-request-id"


def rate_limit_headers(provider: str, retry_after_s: float) -> dict[str, str]:
    headers = {"retry-after": f"{retry_after_s:g}"}
    if provider == "openai":
        headers["retry-after-ms"] = str(round(retry_after_s * 1000))
    if provider in ("openai", "groq"):
        headers.update(
            {
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{round(retry_after_s * 1000)}ms",
            }
        )
    elif provider == "anthropic":
        headers.update(
            {
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
            }
        )
    return headers
