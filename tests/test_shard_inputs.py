"""Merging shards and caches: what a bad set of inputs gets (one line, exit 2) and what the
merge keeps. The end-to-end equality with a whole run is tests/test_shard_merge.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.calls.cache import CacheMode, ResponseCache, merge_caches
from harness.cli import main as cli
from harness.types import Completion, Usage


def _run(path: Path, shard: dict[str, int] | None, cases: list[str], run_id: str) -> Path:
    path.mkdir(parents=True)
    lines = [
        {
            "run_id": run_id, "suite": "s", "case_id": c, "target": "openai:gpt-4o-mini",
            "provider": "openai", "model": "gpt-4o-mini", "temperature": 0.0, "repeat": 0,
            "status": "passed", "passed": True, "nodeid": f"evals/s.yaml::{c}",
            "cost_if_live_usd": 0.001,
        }
        for c in cases
    ]
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    meta: dict[str, Any] = {"run_id": run_id, "shard": shard, "price_table_date": "2026-11-29",
                            "started_at": 10.0 + len(cases), "finished_at": 20.0 + len(cases)}
    (path / "meta.json").write_text(json.dumps(meta))
    return path


def test_shards_merge_into_one_run_and_a_missing_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _run(tmp_path / "a", {"index": 1, "count": 3}, ["c1", "c2"], "r-a")
    c = _run(tmp_path / "c", {"index": 3, "count": 3}, ["c3"], "r-c")
    out = tmp_path / "merged"
    assert cli(["report", str(c), str(a), "-o", str(out / "report.html"),
                "--save-baseline", str(tmp_path / "base.jsonl")]) == 0
    captured = capsys.readouterr()
    assert "warning: shard(s) 2/3 not given" in captured.err
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    # shard order, targets keep their names (not one column per run as in a comparison)
    assert [r["case_id"] for r in records] == ["c1", "c2", "c3"]
    assert {r["target"] for r in records} == {"openai:gpt-4o-mini"}
    meta = json.loads((out / "meta.json").read_text())
    assert meta["run_id"] == "shards-r-a+r-c"
    assert (meta["started_at"], meta["finished_at"]) == (11.0, 22.0)
    assert meta["price_table_date"] == "2026-11-29"
    assert [(s["index"], s["run_id"]) for s in meta["shards"]] == [(1, "r-a"), (3, "r-c")]
    baseline = (tmp_path / "base.jsonl").read_text()
    assert baseline.count('"case": "c') == 3


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ([({"index": 1, "count": 2}, "a"), (None, "b")], "a whole run given with shard runs"),
        ([({"index": 1, "count": 2}, "a"), ({"index": 2, "count": 3}, "b")],
         "different splits (N = 2, 3)"),
        ([({"index": 2, "count": 2}, "a"), ({"index": 2, "count": 2}, "b")],
         "shard 2/2 given twice"),
    ],
)
def test_a_bad_set_of_shards_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[Any], message: str
) -> None:
    paths = [str(_run(tmp_path / name, shard, ["c1"], name)) for shard, name in runs]
    assert cli(["report", *paths, "-o", str(tmp_path / "m" / "report.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "m" / "results.jsonl").exists()


def test_merging_into_a_shard_folder_or_a_baseline_of_a_comparison_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _run(tmp_path / "a", {"index": 1, "count": 2}, ["c1"], "a")
    b = _run(tmp_path / "b", {"index": 2, "count": 2}, ["c2"], "b")
    assert cli(["report", str(a), str(b), "-o", str(a / "report.html")]) == 2
    assert "is one of the shards' folders" in capsys.readouterr().err
    x = _run(tmp_path / "x", None, ["c1"], "x")
    y = _run(tmp_path / "y", None, ["c1"], "y")
    code = cli(["report", str(x), str(y), "--save-baseline", str(tmp_path / "b.jsonl"),
                "-o", str(tmp_path / "cmp" / "report.html")])
    assert code == 2
    assert "--save-baseline needs one run or the shards of one run" in capsys.readouterr().err


def _answer(text: str) -> Completion:
    return Completion(text=text, usage=Usage(10, 2))


def test_cache_merge_adds_what_is_missing_and_keeps_what_dest_has(tmp_path: Path) -> None:
    def fill(name: str, entries: dict[str, str]) -> Path:
        cache = ResponseCache(tmp_path / name, CacheMode.USE)
        for key, text in entries.items():
            assert cache.put(key, _answer(text), 0.5)
        cache.close()
        return tmp_path / name

    one = fill("one", {"k1": "from one", "k2": "from one"})
    two = fill("two", {"k2": "from two", "k3": "from two"})
    dest = fill("dest", {"k3": "already in dest"})
    counts = merge_caches([one, two], dest)
    assert counts == {"added": 2, "kept": 2, "unreadable": 0}
    merged = ResponseCache(dest, CacheMode.REPLAY)
    got = {k: merged.get(k) for k in sorted(merged.iter_keys())}
    merged.close()
    assert {k: (v[0].text, v[1]) for k, v in got.items() if v} == {
        "k1": ("from one", 0.5),
        "k2": ("from one", 0.5),  # the first source holding a key wins
        "k3": ("already in dest", 0.5),  # DEST keeps its own answer
    }


def test_cache_merge_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = ResponseCache(tmp_path / "src", CacheMode.USE)
    src.put("k", _answer("hi"), None)
    src.close()
    assert cli(["cache", "merge", str(tmp_path / "src"), str(tmp_path / "new")]) == 0
    assert "1 answers added, 0 already there" in capsys.readouterr().out
    assert cli(["cache", "merge", str(tmp_path / "nope"), str(tmp_path / "new")]) == 2
    assert "nope: no cache directory here" in capsys.readouterr().err
    assert cli(["cache", "merge", str(tmp_path / "new"), str(tmp_path / "new")]) == 2
    assert "is also DEST" in capsys.readouterr().err
