"""Scripting for the provider simulator: per-model latency, answers, usage and fault rates.

A config is a mapping (or a YAML/JSON file) like::

    seed: 7
    require_key: sk-test          # 401 for any other key (the key is never logged)
    known_models: [gpt-4o-mini]   # or {openai: [...], anthropic: [...]}; others get 404
    retry_after_s: 1              # sent with 429s
    hang_s: 30                    # how long a "hang" fault sleeps
    default:                      # applies to every model, merged under the per-model entry
      latency_ms: 20              # or {mean: 50, jitter: 10} or {min: 10, max: 80}
      token_rate: 200             # tokens/s while streaming (and added to non-stream time)
      answer: auto                # auto | echo | canned | json | tool
      canned: {"capital of France": "Paris"}   # prompt substring or case id -> answer
      canned_default: "I don't know"
      invalid_json_rate: 0.0
      cached_share: 0.0           # share of prompt tokens reported as cache reads
      cache_write_share: 0.0      # Anthropic only: share reported as cache writes
      cache_write_1h_share: 0.0   # Anthropic only: share of those writes with the 1-hour TTL
      faults: {rate_limit: 0.05, server_error: 0.01}
    models:
      "claude-*": {latency_ms: {mean: 300, jitter: 50}}
      "openai:gpt-4o-mini": {answer: echo}

Model entries are looked up as ``provider:model``, then ``model``, then glob patterns in
file order; the first hit is merged over ``default``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

#: Fault kinds, in the order a random draw walks through them.
FAULT_KINDS = (
    "rate_limit",
    "server_error",
    "overloaded",
    "hang",
    "malformed",
    "truncated_stream",
    "midstream_error",
)
#: Faults that only make sense on a streaming request (skipped in draws for plain calls).
STREAM_ONLY_FAULTS = frozenset({"truncated_stream", "midstream_error"})
ANSWER_MODES = ("auto", "echo", "canned", "json", "tool")
PROVIDERS = ("openai", "anthropic", "groq", "mistral")

_SCRIPT_KEYS = {
    "latency_ms",
    "token_rate",
    "answer",
    "canned",
    "canned_default",
    "invalid_json_rate",
    "cached_share",
    "cache_write_share",
    "cache_write_1h_share",
    "faults",
}
_TOP_KEYS = {
    "seed",
    "require_key",
    "known_models",
    "retry_after_s",
    "hang_s",
    "truncate_mode",
    "default",
    "models",
}


@dataclass(frozen=True)
class Latency:
    """Time before the response starts. ``kind`` is fixed, jitter (uniform mean +- jitter)
    or uniform (min..max); all in milliseconds."""

    kind: str = "fixed"
    a: float = 0.0
    b: float = 0.0

    @classmethod
    def parse(cls, value: Any, where: str) -> Latency:
        if value is None:
            return cls()
        if isinstance(value, bool):
            raise ConfigError(f"{where}: latency_ms must be a number or a mapping")
        if isinstance(value, int | float):
            return cls("fixed", _non_negative(value, where))
        if isinstance(value, Mapping):
            keys = set(value)
            if keys <= {"mean", "jitter"} and "mean" in keys:
                return cls(
                    "jitter",
                    _non_negative(value["mean"], f"{where}.mean"),
                    _non_negative(value.get("jitter", 0), f"{where}.jitter"),
                )
            if keys == {"min", "max"}:
                lo = _non_negative(value["min"], f"{where}.min")
                hi = _non_negative(value["max"], f"{where}.max")
                if hi < lo:
                    raise ConfigError(f"{where}: max ({hi}) is below min ({lo})")
                return cls("uniform", lo, hi)
        raise ConfigError(
            f"{where}: latency_ms must be a number, {{mean, jitter}} or {{min, max}}; got {value!r}"
        )

    def draw(self, u: float) -> float:
        """Milliseconds for a uniform draw ``u`` in [0, 1)."""
        if self.kind == "jitter":
            return max(0.0, self.a + (2 * u - 1) * self.b)
        if self.kind == "uniform":
            return self.a + u * (self.b - self.a)
        return self.a


@dataclass(frozen=True)
class ModelScript:
    """What the simulator does for one model (after merging ``default`` and the model entry)."""

    latency: Latency = field(default_factory=Latency)
    token_rate: float | None = None
    answer: str = "auto"
    canned: tuple[tuple[str, Any], ...] = ()
    canned_default: Any = None
    invalid_json_rate: float = 0.0
    cached_share: float = 0.0
    cache_write_share: float = 0.0
    cache_write_1h_share: float = 0.0
    faults: tuple[tuple[str, float], ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> ModelScript:
        unknown = set(raw) - _SCRIPT_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_SCRIPT_KEYS)}"
            )
        answer = raw.get("answer", "auto")
        if answer not in ANSWER_MODES:
            raise ConfigError(f"{where}.answer: {answer!r} is not one of {list(ANSWER_MODES)}")
        rate = raw.get("token_rate")
        if rate is not None and (_number(rate, f"{where}.token_rate") <= 0):
            raise ConfigError(f"{where}.token_rate: must be positive tokens/s")
        canned = raw.get("canned") or {}
        if not isinstance(canned, Mapping):
            raise ConfigError(f"{where}.canned: must be a mapping of prompt substring -> answer")
        canned_default = raw.get("canned_default")
        items = []
        for key, value in canned.items():
            if key in ("*", "default") and canned_default is None:
                canned_default = value
            else:
                items.append((str(key), value))
        faults = raw.get("faults") or {}
        if not isinstance(faults, Mapping):
            raise ConfigError(f"{where}.faults: must be a mapping of fault kind -> rate")
        for kind in faults:
            if kind not in FAULT_KINDS:
                raise ConfigError(
                    f"{where}.faults: unknown fault {kind!r}; known: {list(FAULT_KINDS)}"
                )
        rates = tuple(
            (kind, _share(faults[kind], f"{where}.faults.{kind}"))
            for kind in FAULT_KINDS
            if kind in faults
        )
        if sum(r for _, r in rates) > 1.0 + 1e-9:
            raise ConfigError(f"{where}.faults: rates add up to more than 1")
        return cls(
            latency=Latency.parse(raw.get("latency_ms"), f"{where}.latency_ms"),
            token_rate=float(rate) if rate is not None else None,
            answer=answer,
            canned=tuple(items),
            canned_default=canned_default,
            invalid_json_rate=_share(raw.get("invalid_json_rate", 0), f"{where}.invalid_json_rate"),
            cached_share=_share(raw.get("cached_share", 0), f"{where}.cached_share"),
            cache_write_share=_share(raw.get("cache_write_share", 0), f"{where}.cache_write_share"),
            cache_write_1h_share=_share(
                raw.get("cache_write_1h_share", 0), f"{where}.cache_write_1h_share"
            ),
            faults=rates,
        )


@dataclass(frozen=True)
class SimConfig:
    """The whole simulator script. Build with ``from_mapping`` or ``load``."""

    seed: int = 0
    require_key: str | None = None
    known_models: Mapping[str, frozenset[str]] | frozenset[str] | None = None
    retry_after_s: float = 1.0
    hang_s: float = 30.0
    #: how a truncated stream ends: "eof" (clean end, no final event) or "reset" (dropped)
    truncate_mode: str = "eof"
    default: Mapping[str, Any] = field(default_factory=dict)
    models: tuple[tuple[str, Mapping[str, Any]], ...] = ()

    def __post_init__(self) -> None:
        # Parse every script once up front so a bad entry fails at load, not mid-run.
        scripts = {"": ModelScript.parse(self.default, "default")}
        for name, raw in self.models:
            scripts[name] = ModelScript.parse({**self.default, **raw}, f"models.{name}")
        object.__setattr__(self, "_scripts", scripts)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> SimConfig:
        raw = dict(raw or {})
        unknown = set(raw) - _TOP_KEYS
        if unknown:
            raise ConfigError(
                f"simulator config: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}"
            )
        default = raw.get("default") or {}
        models = raw.get("models") or {}
        if not isinstance(default, Mapping) or not isinstance(models, Mapping):
            raise ConfigError("simulator config: 'default' and 'models' must be mappings")
        for name, entry in models.items():
            if not isinstance(entry, Mapping):
                raise ConfigError(f"simulator config: models.{name} must be a mapping")
        mode = raw.get("truncate_mode", "eof")
        if mode not in ("eof", "reset"):
            raise ConfigError("simulator config: truncate_mode must be 'eof' or 'reset'")
        key = raw.get("require_key")
        return cls(
            seed=int(raw.get("seed", 0)),
            require_key=str(key) if key else None,
            known_models=_known_models(raw.get("known_models")),
            retry_after_s=_non_negative(raw.get("retry_after_s", 1.0), "retry_after_s"),
            hang_s=_non_negative(raw.get("hang_s", 30.0), "hang_s"),
            truncate_mode=mode,
            default=dict(default),
            models=tuple((str(k), dict(v)) for k, v in models.items()),
        )

    @classmethod
    def load(cls, path: str | Path) -> SimConfig:
        """Read a YAML (.yaml/.yml) or JSON file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"simulator config {p}: cannot read ({exc.strerror})") from None
        try:
            if p.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError subclass it
            raise ConfigError(f"simulator config {p}: not valid ({exc})") from None
        except Exception as exc:  # yaml.YAMLError does not derive from ValueError
            raise ConfigError(f"simulator config {p}: not valid YAML ({exc})") from None
        if data is not None and not isinstance(data, Mapping):
            raise ConfigError(f"simulator config {p}: the top level must be a mapping")
        return cls.from_mapping(data)

    @classmethod
    def coerce(cls, config: SimConfig | Mapping[str, Any] | None) -> SimConfig:
        if isinstance(config, SimConfig):
            return config
        return cls.from_mapping(config)

    def script_for(self, provider: str, model: str) -> ModelScript:
        scripts: dict[str, ModelScript] = self._scripts  # type: ignore[attr-defined]
        for key in (f"{provider}:{model}", model):
            if key in scripts and key:
                return scripts[key]
        for name, _ in self.models:
            if fnmatch.fnmatchcase(f"{provider}:{model}", name) or fnmatch.fnmatchcase(model, name):
                return scripts[name]
        return scripts[""]

    def model_known(self, provider: str, model: str) -> bool:
        if self.known_models is None:
            return True
        if isinstance(self.known_models, frozenset):
            return model in self.known_models
        return model in self.known_models.get(provider, frozenset())


def _known_models(value: Any) -> Mapping[str, frozenset[str]] | frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    if isinstance(value, Mapping):
        for name in value:
            if name not in PROVIDERS:
                raise ConfigError(f"simulator config: known_models: unknown provider {name!r}")
        return {str(k): frozenset(str(m) for m in v) for k, v in value.items()}
    raise ConfigError("simulator config: known_models must be a list or {provider: [models]}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: must be a number, got {value!r}")
    return float(value)


def _non_negative(value: Any, where: str) -> float:
    v = _number(value, where)
    if v < 0:
        raise ConfigError(f"{where}: must not be negative")
    return v


def _share(value: Any, where: str) -> float:
    v = _number(value, where)
    if not 0.0 <= v <= 1.0:
        raise ConfigError(f"{where}: must be between 0 and 1, got {v}")
    return v
