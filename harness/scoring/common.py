"""Helpers shared by the built-in scorers: spec checks, vars in values, user code lookup."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.scoring.base import ScoreContext, Validator
from harness.suite import templating


def render_text(value: Any, ctx: ScoreContext) -> str:
    """A scalar value as text, vars filled in."""
    return str(render(value if isinstance(value, str) else str(value), ctx))


def render(value: Any, ctx: ScoreContext) -> Any:
    """Render ``{{ var }}`` in a string value with the case's vars (lists: each item)."""
    if isinstance(value, str):
        return templating.render(value, ctx.vars) if "{{" in value or "{%" in value else value
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    return value


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def check_all(*checks: Validator) -> Validator:
    def validate(spec: Mapping[str, Any]) -> str | None:
        for check in checks:
            problem = check(spec)
            if problem:
                return problem
        return None

    return validate


def need_str(key: str = "value", example: str = "ACME") -> Validator:
    def validate(spec: Mapping[str, Any]) -> str | None:
        v = spec.get(key)
        if not isinstance(v, str) or not v:
            return f"{spec['type']}: needs '{key}' as a non-empty string, e.g. {key}: {example}"
        return None

    return validate


def _texty(x: Any) -> bool:
    return (isinstance(x, str) and x != "") or is_number(x)


def need_text(key: str = "value", example: str = "ACME") -> Validator:
    """A non-empty string or a number (YAML reads ``value: 42`` as an int)."""

    def validate(spec: Mapping[str, Any]) -> str | None:
        if not _texty(spec.get(key)):
            return f"{spec['type']}: needs '{key}' as a non-empty string, e.g. {key}: {example}"
        return None

    return validate


def need_str_list(key: str = "value") -> Validator:
    """A non-empty list of non-empty strings (numbers accepted, as in need_text)."""

    def validate(spec: Mapping[str, Any]) -> str | None:
        v = spec.get(key)
        if not isinstance(v, list) or not v or not all(_texty(x) for x in v):
            return (
                f"{spec['type']}: needs '{key}' as a non-empty list of strings, "
                f"e.g. {key}: [red, green]"
            )
        return None

    return validate


def need_number(key: str, *, required: bool = True, minimum: float = 0) -> Validator:
    def validate(spec: Mapping[str, Any]) -> str | None:
        if key not in spec:
            return f"{spec['type']}: needs '{key}' (a number)" if required else None
        v = spec[key]
        if not is_number(v) or v < minimum:
            return f"{spec['type']}: '{key}' must be a number >= {minimum:g}, got {v!r}"
        return None

    return validate


def need_mapping(key: str, *, required: bool = False) -> Validator:
    def validate(spec: Mapping[str, Any]) -> str | None:
        if key not in spec:
            return f"{spec['type']}: needs '{key}' (a mapping)" if required else None
        if not isinstance(spec[key], Mapping):
            return f"{spec['type']}: '{key}' must be a mapping, got {spec[key]!r}"
        return None

    return validate


def check_dotted(spec: Mapping[str, Any], key: str) -> str | None:
    v = spec.get(key)
    if not isinstance(v, str) or ":" not in v or v.startswith(":") or v.endswith(":"):
        return (
            f"{spec['type']}: '{key}' must be 'module:name' or 'file.py:name' "
            f"(relative to the suite file), got {v!r}"
        )
    return None


_FILE_MODULES: dict[Path, ModuleType] = {}


def _load_file(path: Path) -> ModuleType:
    path = path.resolve()
    mod = _FILE_MODULES.get(path)
    if mod is not None:
        return mod
    name = f"_llm_harness_user_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _FILE_MODULES[path] = mod
    return mod


def resolve(dotted: str, base_dir: Path) -> Any:
    """``pkg.mod:attr`` (importable, or ``pkg/mod.py`` under ``base_dir``) or
    ``path/file.py:attr`` relative to ``base_dir``; ``attr`` may be dotted (``Class.method``)."""
    module_part, _, attr = dotted.rpartition(":")
    if module_part.endswith(".py") or "/" in module_part:
        mod = _load_file(base_dir / module_part)
    else:
        try:
            mod = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            local = base_dir / (module_part.replace(".", "/") + ".py")
            if exc.name != module_part.split(".")[0] or not local.is_file():
                raise
            mod = _load_file(local)
    obj: Any = mod
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def resolve_callable(dotted: str, base_dir: Path) -> Callable[..., Any]:
    fn = resolve(dotted, base_dir)
    if not callable(fn):
        raise TypeError(f"{dotted} is not callable")
    return fn


def bounded(label: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` under the time limit of suite-author code (python scorers, expressions,
    transforms: harness.suite.limits.SCORER_S). It runs in a daemon thread: Python cannot
    stop a thread, so one that overruns is left behind (and the cell fails saying so), but
    the run goes on. Any exception, SystemExit included, is raised here as the caller's."""
    from harness.suite.limits import SCORER_S

    box: list[Any] = []

    def call() -> None:
        try:
            box.append((True, fn(*args)))
        except BaseException as exc:  # SystemExit too: reported as the code's failure
            box.append((False, exc))

    thread = threading.Thread(target=call, name=label, daemon=True)
    thread.start()
    thread.join(SCORER_S.value())
    if not box:
        raise TimeoutError(
            f"{label} did not return within {SCORER_S.value():g} s; make it faster or raise "
            f"{SCORER_S.env}"
        )
    ok, value = box[0]
    if not ok:
        raise value
    return value
