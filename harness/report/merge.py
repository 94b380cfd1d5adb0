"""Load stored runs strictly and merge several into one comparison, or shards into one run.

``harness.results.store.load_results`` forgives torn lines (a crash mid-write); re-rendering a
report is a deliberate act, so here a bad line is an error naming file and line. The one
exception is a torn *last* line with no newline, which is what a crash leaves: it is
skipped with a warning, like the store does.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.results.store import REQUIRED_ORDER, load_meta, parse_line, results_file
from harness.types import Result


class ReportInputError(HarnessError):
    """A run given to ``llm-harness report`` cannot be read; the message names file and line."""


@dataclass
class Run:
    path: Path
    results: list[Result]
    meta: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        rid = self.meta.get("run_id") or (self.results[0].run_id if self.results else "")
        return str(rid or self.path.parent.name)


def load_run(path: Path) -> Run:
    """Read a run directory or results.jsonl; raise ReportInputError naming file:line."""
    path = Path(path)
    if not path.exists():
        raise ReportInputError(f"{path}: no such file or directory")
    file = results_file(path)
    if not file.is_file():
        raise ReportInputError(f"{path}: no results.jsonl in this directory")
    try:
        raw = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{file}: cannot read: {exc}") from None
    lines = raw.split("\n")
    results: list[Result] = []
    warnings: list[str] = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        torn_tail = no == len(lines) and not raw.endswith("\n")
        try:
            data = parse_line(line)
            if not isinstance(data, dict):
                raise ValueError("a result line must be a JSON object")
            missing = [k for k in REQUIRED_ORDER if k not in data]
            if missing:
                raise ValueError(f"missing field(s) {', '.join(missing)}")
            results.append(Result.from_dict(data))
        except (ValueError, TypeError) as exc:
            if torn_tail and isinstance(exc, json.JSONDecodeError):
                warnings.append(f"{file}:{no}: skipped a torn last line (interrupted run?)")
                continue
            raise ReportInputError(f"{file}:{no}: not a result record: {exc}") from None
    if not results:
        raise ReportInputError(f"{file}: no results in this file (it is empty)")
    try:
        meta = load_meta(file)
    except (ValueError, OSError) as exc:
        raise ReportInputError(f"{file.parent / 'meta.json'}: cannot read: {exc}") from None
    if not isinstance(meta, dict):
        raise ReportInputError(f"{file.parent / 'meta.json'}: not a JSON object")
    return Run(path=file, results=results, meta=meta, warnings=warnings)


#: meta.json keys that are one value for a whole run: a merge of shards keeps them when
#: every shard agrees (run_id is the merged run's own, times span the shards).
_RUN_WIDE = ("git_commit", "price_table_date", "price_overrides", "cache_mode", "versions")


def is_shard_set(runs: Sequence[Run]) -> bool:
    """Whether these runs are the shards of one split run (``--llm-shard K/N``).

    Raises ReportInputError for a set that cannot be one run: shards mixed with whole
    runs, shards of different splits, or a shard given twice."""
    shards = [r.meta.get("shard") for r in runs]
    if not any(shards):
        return False
    whole = [r for r, s in zip(runs, shards, strict=True) if not s]
    if whole:
        raise ReportInputError(
            f"{whole[0].path}: a whole run given with shard runs; merge the shards of one "
            "split run on their own (compare the merged run with others afterwards)"
        )
    counts = {int(s["count"]) for s in shards if isinstance(s, dict)}
    if len(counts) != 1:
        raise ReportInputError(
            "these shards come from different splits (N = "
            f"{', '.join(str(n) for n in sorted(counts))}); give the K/N shards of one split"
        )
    seen: dict[int, Path] = {}
    for run, s in zip(runs, shards, strict=True):
        index = int(s["index"])  # type: ignore[index]
        if index in seen:
            raise ReportInputError(
                f"{run.path}: shard {index}/{s['count']} given twice (also {seen[index]})"  # type: ignore[index]
            )
        seen[index] = run.path
    return True


def merge_shards(runs: Sequence[Run]) -> tuple[list[Result], dict[str, Any], list[int]]:
    """The shards of one split run as that run: their records side by side (each cell is in
    exactly one shard), one meta, and the shard numbers that are missing (1-based)."""
    ordered = sorted(runs, key=lambda r: int(r.meta["shard"]["index"]))
    count = int(ordered[0].meta["shard"]["count"])
    results = [r for run in ordered for r in run.results]
    meta: dict[str, Any] = {
        "run_id": "shards-" + "+".join(run.run_id for run in ordered),
        "started_at": min(
            (m for run in ordered if (m := run.meta.get("started_at"))), default=None
        ),
        "finished_at": max(
            (m for run in ordered if (m := run.meta.get("finished_at"))), default=None
        ),
        "shard": None,
        "shards": [
            {**run.meta["shard"], "run_id": run.run_id, "source": str(run.path)}
            for run in ordered
        ],
    }
    for key in _RUN_WIDE:
        values = [run.meta.get(key) for run in ordered]
        if all(v == values[0] for v in values):
            meta[key] = values[0]
        else:
            meta[key + "_by_shard"] = values
    present = {int(run.meta["shard"]["index"]) for run in ordered}
    missing = [k for k in range(1, count + 1) if k not in present]
    return results, meta, missing


def merge_runs(runs: Sequence[Run]) -> tuple[list[Result], dict[str, Any]]:
    """One result list and one meta for several runs (shards: see merge_shards).

    A target that appears in more than one run is renamed ``target [run label]`` in each, so
    the runs sit side by side as separate columns instead of pooling into one. The label is
    the random tail of a store run id (``20261124-153000-a1b2c3`` -> ``a1b2c3``) when those
    are unique across the runs, else the whole run id.
    """
    if len(runs) == 1:
        return list(runs[0].results), dict(runs[0].meta)
    if is_shard_set(runs):
        merged, shards_meta, _ = merge_shards(runs)
        return merged, shards_meta
    labels = _unique_labels([r.run_id for r in runs])
    seen: Counter[str] = Counter()
    for run in runs:
        for target in {r.target for r in run.results}:
            seen[target] += 1
    shared = {t for t, n in seen.items() if n > 1}
    results: list[Result] = []
    metas = []
    for run, label in zip(runs, labels, strict=True):
        for r in run.results:
            target = f"{r.target} [{label}]" if r.target in shared else r.target
            results.append(dataclasses.replace(r, target=target))
        m = dict(run.meta)
        m.setdefault("run_id", run.run_id)
        m["label"] = label
        m["source"] = str(run.path)
        metas.append(m)
    meta = {"run_id": "merged: " + ", ".join(labels), "runs": metas}
    return results, meta


_STORE_ID = re.compile(r"\d{8}-\d{6}-([0-9a-f]+)")


def _unique_labels(ids: Sequence[str]) -> list[str]:
    """Short labels for runs: the id's random tail when unique, with #2, #3 ... added when
    the same run is given more than once."""
    tails = [m.group(1) if (m := _STORE_ID.fullmatch(rid)) else rid for rid in ids]
    distinct_runs = len(set(ids))
    names = tails if len(set(tails)) == distinct_runs else list(ids)
    counts: Counter[str] = Counter()
    out = []
    for name in names:
        counts[name] += 1
        out.append(name if counts[name] == 1 else f"{name}#{counts[name]}")
    return out
