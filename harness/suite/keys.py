"""The keys a suite file accepts: pydantic models of the suite, its cases, prompt variants and
target mappings (``extra="forbid"``: an unknown key is an error naming it), and how a
validation error reads as one problem and its fix.

docs/suites.md lists these keys; tests/test_suite_keys.py holds the two to each other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MAX_TOKENS = 256
DEFAULT_TIMEOUT_S = 60.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptModel(_Strict):
    system: str | None = None
    user: str


class MessageModel(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class VariantModel(_Strict):
    """One entry of ``prompts:``: a label and exactly one of system/user, messages or file."""

    id: str | int
    system: str | None = None
    user: str | None = None
    messages: list[MessageModel] | None = None
    file: str | None = None


class CaseModel(_Strict):
    id: str | int | None = None
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    threshold: float | None = Field(default=None, ge=0, le=1)
    transform: str | list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    targets: list[str] | None = Field(default=None, min_length=1)


class SuiteModel(_Strict):
    name: str | None = None
    description: str | None = None
    targets: list[str | dict[str, Any]] = Field(min_length=1)
    # No sweep asked for: the provider's own default (None, shown as "default"), which every
    # provider accepts; a fixed 0.0 is refused by Anthropic's current models.
    temperatures: list[float | None] = Field(default=[None], min_length=1)
    repeat: int = Field(default=1, ge=1, le=1000)
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    stream: bool = False
    structured: Literal["none", "native", "json"] = "none"
    seed: int | None = None
    prompt: PromptModel | None = None
    messages: list[MessageModel] | None = None
    prompts: list[VariantModel] | None = Field(default=None, min_length=1)
    schema_: str | dict[str, Any] | None = Field(default=None, alias="schema")
    tools: list[dict[str, Any]] | str = Field(default_factory=list)
    tool_choice: str | None = None
    dataset: str | list[str] | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    cases: list[CaseModel] = Field(default_factory=list)
    transform: str | list[str] | None = None
    judge: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    derived_metrics: dict[str, str] = Field(default_factory=dict)


#: Suite settings a target mapping may override for its own cells.
TARGET_SETTINGS = ("temperatures", "max_tokens", "tools", "tool_choice")


class TargetSettings(_Strict):
    """The TARGET_SETTINGS keys of a target mapping (the rest is parsed by
    harness.suite.targets)."""

    temperatures: list[float | None] | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    tools: list[dict[str, Any]] | str | None = None
    tool_choice: str | None = None


def pydantic_problem(err: Any, model: type[BaseModel]) -> tuple[str, str]:
    """(problem, fix) for one of a ValidationError's ``errors()`` raised by ``model``."""
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key = err["loc"][-1]
        valid = ", ".join(sorted((f.alias or n) for n, f in _model_for(err["loc"], model)))
        return f"unknown key {key!r}", f"remove it or check its spelling; valid keys: {valid}"
    if kind == "missing":
        return f"missing required key {loc!r}", f"add '{err['loc'][-1]}:'"
    return f"{loc}: {err['msg']} (got {err.get('input')!r})", "correct the value"


def _model_for(loc: tuple[Any, ...], model: type[BaseModel]) -> list[tuple[str, Any]]:
    """Fields of the model that owns ``loc``'s last key (for 'valid keys' hints)."""
    current: type[BaseModel] = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        if field is None:
            break
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        candidates = [ann, *(inner or ())]
        for c in candidates:
            for sub in getattr(c, "__args__", ()) or (c,):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    current = sub
    return list(current.model_fields.items())
