"""A suite file cannot send a standard provider key to a host of its choosing."""

from __future__ import annotations

import pytest

from harness.suite.keyroute import base_url_problem
from harness.suite.targets import TargetProblem, parse_target


@pytest.mark.parametrize(
    ("provider", "url", "key_env"),
    [
        ("openai", "https://api.openai.com/v1", None),
        ("openai", "http://127.0.0.1:8000/v1", None),
        ("anthropic", "http://localhost:9000", None),
        ("groq", "http://[::1]:81/openai/v1", None),
        ("mistral", "https://api.mistral.ai", None),
        ("openai", "https://proxy.example.com/v1", "PROXY_KEY"),
        ("openai-compatible", "https://vllm.internal:8000/v1", None),
    ],
)
def test_allowed_destinations(provider: str, url: str, key_env: str | None) -> None:
    assert base_url_problem(provider, url, key_env) is None


@pytest.mark.parametrize(
    ("provider", "url", "words"),
    [
        ("openai", "https://evil.example/v1", "OPENAI_API_KEY"),
        ("anthropic", "https://api.anthropic.com.evil.example", "ANTHROPIC_API_KEY"),
        ("groq", "http://10.0.0.5/openai/v1", "GROQ_API_KEY"),
        ("mistral", "https://user@evil.example", "MISTRAL_API_KEY"),
        ("openai", "file:///etc/passwd", "not an http(s) URL"),
        ("openai", 42, "must be a URL string"),
    ],
)
def test_refused_destinations(provider: str, url: object, words: str) -> None:
    problem = base_url_problem(provider, url, None)
    assert problem is not None and words in problem[0]
    with pytest.raises(TargetProblem, match="base_url") as info:
        parse_target({"provider": provider, "model": "m", "base_url": url})
    assert info.value.fix


def test_an_explicit_key_variable_is_the_suites_choice() -> None:
    spec = parse_target({"provider": "openai", "model": "m", "base_url": "https://x.example/v1",
                         "api_key_env": "X_KEY"})
    assert spec.settings().api_key_env == "X_KEY"
    with pytest.raises(TargetProblem, match="api_key_env"):
        parse_target({"provider": "openai", "model": "m", "api_key_env": 3})
