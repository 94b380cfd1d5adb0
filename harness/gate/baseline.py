"""Baseline files: a run's per-cell outcomes, compact and diff-friendly, meant to be committed.

Layout (JSON with sorted keys; one group and one cell per line, so a pull request's diff
shows exactly which cells changed):

    {
    "cells": [
    {"case": "c1", "cost": 0.000012, "fingerprint": "…", "latency_ms": 812.4, "passed": true,
     "prompt": "v1", "prompt_fingerprint": "…", "repeat": 0, "schema_valid": true,
     "scores": {"contains": true}, "status": "passed", "suite": "s",
     "target": "openai:gpt-4o-mini", "temperature": 0.0, "test_fingerprint": "…"},
    ...
    ],
    "format": "llm-harness-baseline",
    "groups": [ {one summary line per suite x prompt x target x temperature}, ... ],
    "meta": {"created_at": …, "git_commit": …, "run_id": …, …},
    "prompts": [ {"case": …, "messages": [[role, text], …], "prompt": "v1", "suite": …}, … ],
    "version": 2
    }

``cost`` is the live price of the call (``cost_if_live_usd``), so a baseline made from cached
replays still carries real costs; ``input_tokens`` and ``output_tokens`` are what the gate
tests cost changes on, and ``stall_ms`` the harness's own stall that overlapped the call's
timing (cells with a large one are left out of the latency test). The three are null in
baselines written before they existed, and for calls that did not report them.
``prompt`` is the prompt variant label. The two
fingerprints split what a cell is: ``test_fingerprint`` (case vars, assertions, schema,
threshold, tools) decides whether a cell can be paired at all, a changed one makes the case
"not comparable (test changed)"; ``prompt_fingerprint`` (rendered messages, generation
settings) only makes the verdict say "prompt changed". ``prompts`` keeps one rendered prompt
per (suite, variant), of its first case, so a verdict can show what changed in the template.
``fingerprint`` is both together, as version 1 had it (what stored runs from before the split
pair on).

Version 1 (before prompt variants) had one ``fingerprint`` for both; such files are still
read, with every cell in the variant ``default`` and any prompt change "not comparable".
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.results.samples import prompt_samples
from harness.results.stats import summarize
from harness.types import DEFAULT_PROMPT_ID, Result

FORMAT = "llm-harness-baseline"
VERSION = 2

#: Metadata kept in a baseline: enough to say where it came from, nothing volatile or private.
META_KEYS = ("run_id", "git_commit", "started_at", "finished_at", "price_table_date", "cache_mode")

#: Group aggregates kept per line (informational: compare recomputes from the cells).
GROUP_KEYS = (
    "suite",
    "prompt",
    "target",
    "temperature",
    "cells",
    "passed",
    "errors",
    "skipped",
    "pass_rate",
    "schema_valid_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "cost_per_call_usd",
    "flaky_cases",
)

#: (suite, case, target, temperature, repeat, prompt variant)
CellKey = tuple[str, str, str, float | None, int, str]


@dataclass(frozen=True)
class CellOutcome:
    """What the gate needs from one cell; built from a Result or a baseline line."""

    suite: str
    case: str
    target: str
    temperature: float | None
    repeat: int
    status: str
    passed: bool
    schema_valid: bool | None = None
    latency_ms: float | None = None
    cost: float | None = None
    #: Test and prompt together: only version-1 baselines (and old records) pair on it.
    fingerprint: str = ""
    scores: dict[str, bool] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    stall_ms: float | None = None
    prompt: str = DEFAULT_PROMPT_ID
    test_fingerprint: str = ""
    prompt_fingerprint: str = ""

    @property
    def key(self) -> CellKey:
        return (self.suite, self.case, self.target, self.temperature, self.repeat, self.prompt)

    @property
    def group(self) -> tuple[str, str, float | None, str]:
        return (self.suite, self.target, self.temperature, self.prompt)

    @classmethod
    def from_result(cls, r: Result) -> CellOutcome:
        scores: dict[str, bool] = {}
        for s in r.scores:
            name = str(s.get("name", "score"))
            key, n = name, 2
            while key in scores:  # the same assertion type twice: keep both
                key, n = f"{name}#{n}", n + 1
            scores[key] = bool(s.get("passed"))
        return cls(
            suite=r.suite,
            case=r.case_id,
            target=r.target,
            temperature=r.temperature,
            repeat=r.repeat,
            status=r.status,
            passed=bool(r.passed),
            schema_valid=r.schema_valid,
            latency_ms=r.latency_ms,
            cost=r.cost_if_live_usd,
            fingerprint=r.fingerprint or "",
            scores=scores,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            stall_ms=r.stall_ms,
            prompt=getattr(r, "prompt_id", None) or DEFAULT_PROMPT_ID,
            test_fingerprint=getattr(r, "test_fingerprint", "") or "",
            prompt_fingerprint=getattr(r, "prompt_fingerprint", "") or "",
        )

    def to_line(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "case": self.case,
            "target": self.target,
            "temperature": self.temperature,
            "repeat": self.repeat,
            "status": self.status,
            "passed": self.passed,
            "schema_valid": self.schema_valid,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "cost": None if self.cost is None else _round_sig(self.cost, 6),
            "fingerprint": self.fingerprint,
            "prompt": self.prompt,
            "test_fingerprint": self.test_fingerprint,
            "prompt_fingerprint": self.prompt_fingerprint,
            "scores": dict(self.scores),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "stall_ms": None if self.stall_ms is None else round(self.stall_ms, 1),
        }


def _round_sig(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _sort_key(key: CellKey) -> tuple[str, str, str, float, str, int]:
    suite, case, target, temp, repeat, prompt = key
    return (suite, prompt, target, -1.0 if temp is None else temp, case, repeat)


@dataclass
class Baseline:
    """A set of cell outcomes with where they came from; also built from a stored run."""

    cells: list[CellOutcome]
    meta: dict[str, Any] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)
    #: The file or run it was read from, for messages and reports.
    source: str = ""
    #: One rendered prompt per (suite, variant): {"suite", "prompt", "case", "messages"}.
    prompts: list[dict[str, Any]] = field(default_factory=list)
    #: The file's format version (1: one fingerprint, no variants).
    version: int = VERSION

    @property
    def label(self) -> str:
        parts = [self.source or "baseline"]
        commit = self.meta.get("git_commit")
        if commit:
            parts.append(f"commit {str(commit)[:10]}")
        run_id = self.meta.get("run_id")
        if run_id:
            parts.append(f"run {run_id}")
        return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def baseline_from_results(
    results: Iterable[Result],
    meta: Mapping[str, Any] | None = None,
    source: str = "",
    prompts: list[dict[str, Any]] | None = None,
) -> Baseline:
    """``prompts``: the run's prompt samples (harness.results.samples) when ``results`` are
    held without their rendered prompts (RunSession.record); else taken from them."""
    results = list(results)
    cells = sorted((CellOutcome.from_result(r) for r in results), key=lambda c: _sort_key(c.key))
    groups = []
    for g in summarize(results):
        data = g.to_dict()
        groups.append({k: data[k] for k in GROUP_KEYS})
    kept = {k: v for k, v in (meta or {}).items() if k in META_KEYS and v is not None}
    return Baseline(
        cells=cells,
        meta=kept,
        groups=groups,
        source=source,
        prompts=prompt_samples(results) if prompts is None else prompts,
    )


def _line(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False)


def dumps(baseline: Baseline) -> str:
    meta = dict(baseline.meta)
    cells = ",\n".join(_line(c.to_line()) for c in baseline.cells)
    groups = ",\n".join(_line(g) for g in baseline.groups)
    prompts = ",\n".join(_line(p) for p in baseline.prompts)
    return (
        "{\n"
        f'"cells": [\n{cells}\n],\n'
        f'"format": "{FORMAT}",\n'
        f'"groups": [\n{groups}\n],\n'
        f'"meta": {_line(meta)},\n'
        f'"prompts": [\n{prompts}\n],\n'
        f'"version": {VERSION}\n'
        "}\n"
    )


def save_baseline(
    results: list[Result],
    path: str | Path,
    meta: Mapping[str, Any],
    prompts: list[dict[str, Any]] | None = None,
) -> None:
    """Write ``results`` as a baseline file (atomically: a crash leaves the old one intact);
    ``prompts`` as for baseline_from_results."""
    path = Path(path)
    data = dict(meta)
    data.setdefault("created_at", time.time())
    baseline = baseline_from_results(results, data, prompts=prompts)
    baseline.meta["created_at"] = data["created_at"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(baseline), "utf-8")
    tmp.replace(path)


# ---------------------------------------------------------------------------------------
# Loading

FIX_REGENERATE = (
    "regenerate it: run the suites on the reference branch with --llm-save-baseline {path} "
    "and commit the file"
)


def _error(path: Path, problem: str, fix: str, line: int | None = None) -> ConfigError:
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {problem}\n  fix: {fix}")


def _cell_lines(text: str) -> list[int]:
    """Line numbers of the cell objects when the file keeps one cell per line."""
    lines = text.splitlines()
    out: list[int] = []
    inside = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith('"cells"'):
            inside = True
            continue
        if inside:
            if stripped.startswith("]"):
                break
            if stripped.startswith("{"):
                out.append(number)
    return out


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "suite": str,
    "case": str,
    "target": str,
    "repeat": int,
    "status": str,
    "passed": bool,
}
_STATUSES = ("passed", "failed", "error", "skipped")


def _cell(data: Any) -> CellOutcome:
    if not isinstance(data, dict):
        raise ValueError("a cell must be an object")
    for key, kind in _REQUIRED.items():
        if key not in data:
            raise ValueError(f"cell lacks {key!r}")
        if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            raise ValueError(f"cell field {key!r} has the wrong type: {data[key]!r}")
    if data["status"] not in _STATUSES:
        raise ValueError(f"cell status {data['status']!r} is not one of {', '.join(_STATUSES)}")
    temp = data.get("temperature")
    if temp is not None and (isinstance(temp, bool) or not isinstance(temp, int | float)):
        raise ValueError(f"cell temperature {temp!r} is not a number or null")
    for key in ("latency_ms", "cost", "stall_ms"):
        v = data.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise ValueError(f"cell field {key!r} is not a number or null: {v!r}")
    for key in ("input_tokens", "output_tokens"):
        v = data.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ValueError(f"cell field {key!r} is not a whole number >= 0 or null: {v!r}")
    scores = data.get("scores") or {}
    if not isinstance(scores, dict):
        raise ValueError("cell field 'scores' must be an object of name: passed")
    schema_valid = data.get("schema_valid")
    if schema_valid is not None and not isinstance(schema_valid, bool):
        raise ValueError(f"cell field 'schema_valid' is not true, false or null: {schema_valid!r}")
    prompt = data.get("prompt", DEFAULT_PROMPT_ID)
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"cell field 'prompt' is not a prompt variant label: {prompt!r}")
    return CellOutcome(
        suite=data["suite"],
        case=data["case"],
        target=data["target"],
        temperature=None if temp is None else float(temp),
        repeat=data["repeat"],
        status=data["status"],
        passed=data["passed"],
        schema_valid=schema_valid,
        latency_ms=data.get("latency_ms"),
        cost=data.get("cost"),
        fingerprint=str(data.get("fingerprint") or ""),
        scores={str(k): bool(v) for k, v in scores.items()},
        input_tokens=data.get("input_tokens"),
        output_tokens=data.get("output_tokens"),
        stall_ms=data.get("stall_ms"),
        prompt=prompt,
        test_fingerprint=str(data.get("test_fingerprint") or ""),
        prompt_fingerprint=str(data.get("prompt_fingerprint") or ""),
    )


#: ``--llm-baseline git:REF:PATH`` reads PATH as committed at REF (``git show``).
GIT_PREFIX = "git:"


def is_git_spec(path: str | Path) -> bool:
    return str(path).startswith(GIT_PREFIX)


def read_git_baseline(spec: str, cwd: Path | None = None) -> str:
    """The text of ``git:REF:PATH``: the file at that commit, the work tree untouched."""
    import subprocess

    ref, sep, file = spec[len(GIT_PREFIX) :].partition(":")
    fix = (
        "write it as git:REF:PATH, e.g. git:origin/main:baselines/main.json (PATH from the "
        "repository root; in CI fetch the ref first: git fetch origin main)"
    )
    if not sep or not ref or not file:
        raise ConfigError(f"{spec}: not a git baseline spec\n  fix: {fix}")
    where = cwd or Path.cwd()

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError(f"{spec}: git is not installed\n  fix: install git") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"{spec}: git did not answer in 30 s\n  fix: {fix}") from None

    if git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        probe = git("rev-parse", "--git-dir")
        if probe.returncode != 0:
            raise ConfigError(
                f"{spec}: {where} is not inside a git repository\n  fix: run from the "
                "repository, or pass a baseline file path"
            )
        raise ConfigError(
            f"{spec}: git ref {ref!r} not found\n  fix: check the name, or fetch it first "
            f"(git fetch origin {ref.split('/')[-1]}; actions/checkout needs fetch-depth: 0)"
        )
    shown = git("show", f"{ref}:{file}")
    if shown.returncode != 0:
        raise ConfigError(
            f"{spec}: no file {file!r} at {ref}\n  fix: check the path (from the repository "
            f"root; 'git ls-tree -r --name-only {ref}' lists them) or commit the baseline "
            "on that branch"
        )
    return shown.stdout


def load_baseline(path: str | Path, cwd: Path | None = None) -> Baseline:
    """Read a baseline file (or ``git:REF:PATH``, run in ``cwd``); every problem is a
    ConfigError naming the file, line and fix."""
    if is_git_spec(path):
        return parse_baseline(read_git_baseline(str(path), cwd), Path(str(path)))
    path = Path(path)
    fix = FIX_REGENERATE.format(path=path)
    if not path.exists():
        raise _error(path, "baseline file not found", fix.replace("regenerate it", "create it"))
    if path.is_dir():
        raise _error(
            path,
            "is a directory, not a baseline file",
            "pass the baseline JSON file (to compare two stored runs use 'llm-harness compare')",
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(path, f"cannot be read ({exc})", fix) from None
    return parse_baseline(text, path)


def parse_baseline(text: str, path: Path) -> Baseline:
    """A baseline from its text; ``path`` names it in messages."""
    fix = FIX_REGENERATE.format(path=path)
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(("<<<<<<<", ">>>>>>>")):
            raise _error(
                path,
                "contains git merge-conflict markers",
                f"take one side ('git checkout --theirs {path}') or {fix}",
                number,
            )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _error(
            path, f"not valid JSON: {exc.msg} (column {exc.colno})", fix, exc.lineno
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        if isinstance(data, dict) and "run_id" in data and "case_id" in data:
            hint = "this looks like a results.jsonl line; use 'llm-harness compare' for runs"
        else:
            hint = fix
        raise _error(path, f'not an llm-harness baseline (no "format": "{FORMAT}")', hint)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _error(path, f"baseline version {version!r} is not a whole number", fix)
    if version > VERSION:
        raise _error(
            path,
            f"baseline format version {version} is newer than this llm-harness reads ({VERSION})",
            f"upgrade llm-harness, or {fix}",
        )
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise _error(path, "'cells' must be a list of cell objects", fix)
    lines = _cell_lines(text)
    cells: list[CellOutcome] = []
    seen: set[CellKey] = set()
    for i, raw in enumerate(raw_cells):
        where = lines[i] if len(lines) == len(raw_cells) else None
        try:
            cell = _cell(raw)
        except ValueError as exc:
            raise _error(path, f"cell {i + 1}: {exc}", fix, where) from None
        if cell.key in seen:
            raise _error(path, f"cell {i + 1} repeats {cell.key!r}", fix, where)
        seen.add(cell.key)
        cells.append(cell)
    meta = data.get("meta") or {}
    groups = data.get("groups") or []
    if not isinstance(meta, dict) or not isinstance(groups, list):
        raise _error(path, "'meta' must be an object and 'groups' a list", fix)
    prompts = data.get("prompts") or []
    if not isinstance(prompts, list) or not all(_is_sample(p) for p in prompts):
        raise _error(
            path, "'prompts' must be a list of {suite, prompt, case, messages} objects", fix
        )
    return Baseline(
        cells=cells,
        meta=meta,
        groups=groups,
        source=str(path),
        prompts=prompts,
        version=version,
    )


def _is_sample(p: Any) -> bool:
    return (
        isinstance(p, dict)
        and all(isinstance(p.get(k), str) for k in ("suite", "prompt", "case"))
        and isinstance(p.get("messages"), list)
        and all(
            isinstance(m, list) and len(m) == 2 and all(isinstance(x, str) for x in m)
            for m in p["messages"]
        )
    )
