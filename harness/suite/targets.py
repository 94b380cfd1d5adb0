"""Target specs: which provider and model a cell calls, parsed from suite strings/mappings.

Accepted forms:
    provider:model                          openai:gpt-4o-mini
    local:gemma-3-270m | local:/path/x.gguf
    {provider: ..., model: ..., id: ..., base_url: ..., api_key_env: ..., options: {...},
     prompts: [v1, ...]}       # only these prompt variants of the suite (default: all)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.providers import PROVIDERS
from harness.providers.base import ProviderSettings
from harness.types import Tool

ACCEPTED_FORMS = (
    "'provider:model' with provider one of "
    + ", ".join(sorted(PROVIDERS))
    + " (e.g. openai:gpt-4o-mini, local:gemma-3-270m), or a mapping "
    "{provider: ..., model: ..., id: ..., base_url: ..., api_key_env: ..., options: {...}}"
)


class TargetProblem(ValueError):
    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        #: The fix to print, when it is not "write the target as provider:model".
        self.fix = fix


@dataclass(frozen=True)
class TargetSpec:
    id: str
    provider: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: The prompt variants (labels) this target runs; empty means all of the suite's.
    prompts: tuple[str, ...] = ()
    #: Per-target settings from a suite's target mapping (harness.suite.suite_targets); None: the
    #: suite's own value applies.
    temperatures: tuple[float | None, ...] | None = None
    max_tokens: int | None = None
    tools: tuple[Tool, ...] | None = None
    tool_choice: str | None = None

    def settings(self) -> ProviderSettings:
        info = PROVIDERS[self.provider]
        base_url = info.base_url(self.base_url)
        return ProviderSettings(
            name=self.provider,
            api_key_env=self.api_key_env or info.api_key_env,
            base_url=base_url,
            options=dict(self.options),
        )

    def missing_key(self) -> str | None:
        """The environment variable to set when this target's key is absent, else None."""
        return PROVIDERS[self.provider].missing_key(self.api_key_env)

    @property
    def marker(self) -> str:
        return PROVIDERS[self.provider].marker


def parse_target(raw: object) -> TargetSpec:
    if isinstance(raw, str):
        name, sep, model_name = raw.partition(":")
        if not sep or not name or not model_name:
            raise TargetProblem(f"malformed target {raw!r}; accepted forms: {ACCEPTED_FORMS}")
        if name not in PROVIDERS:
            raise TargetProblem(
                f"unknown provider {name!r} in target {raw!r}; accepted forms: {ACCEPTED_FORMS}"
            )
        return TargetSpec(id=raw, provider=name, model=model_name)
    if isinstance(raw, Mapping):
        unknown = set(raw) - {
            "id",
            "provider",
            "model",
            "base_url",
            "api_key_env",
            "options",
            "prompts",
        }
        if unknown:
            raise TargetProblem(
                f"unknown target key(s) {sorted(unknown)}; accepted forms: {ACCEPTED_FORMS}"
            )
        provider: Any = raw.get("provider")
        model: Any = raw.get("model")
        if not isinstance(provider, str) or provider not in PROVIDERS:
            raise TargetProblem(
                f"target mapping needs a known 'provider'; got {provider!r}; "
                f"accepted forms: {ACCEPTED_FORMS}"
            )
        if not isinstance(model, str) or not model:
            raise TargetProblem(f"target mapping needs 'model'; accepted forms: {ACCEPTED_FORMS}")
        options = raw.get("options") or {}
        if not isinstance(options, Mapping):
            raise TargetProblem("target 'options' must be a mapping")
        prompts = raw.get("prompts") or []
        if not isinstance(prompts, list) or not all(isinstance(p, str) for p in prompts):
            raise TargetProblem("target 'prompts' must be a list of prompt variant ids")
        api_key_env = raw.get("api_key_env")
        if api_key_env is not None and (not isinstance(api_key_env, str) or not api_key_env):
            raise TargetProblem(f"target api_key_env must be a variable name, got {api_key_env!r}")
        from harness.suite.keyroute import base_url_problem

        problem = base_url_problem(provider, raw.get("base_url"), api_key_env)
        if problem is not None:
            raise TargetProblem(*problem)
        return TargetSpec(
            id=str(raw.get("id") or f"{provider}:{model}"),
            prompts=tuple(prompts),
            provider=provider,
            model=model,
            base_url=raw.get("base_url"),
            api_key_env=raw.get("api_key_env"),
            options=dict(options),
        )
    raise TargetProblem(
        f"target must be a string or mapping, got {raw!r}; accepted forms: {ACCEPTED_FORMS}"
    )


def selected(target: TargetSpec, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return True
    names = (target.id, f"{target.provider}:{target.model}")
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)
