"""Issue 17's sharding acceptance: a 2000-cell suite run whole and as 4 shards (real SDKs,
the simulator, the plugin), the shards' folders merged by ``llm-harness report`` and their
caches by ``llm-harness cache merge``.

Merged, the shards give the same records, the same summary and the same gate verdicts as
the whole run; each cell is in exactly one shard; the merged cache replays the whole run
without a call. Timing fields (latency, queue, run ids) differ between any two runs and
are left out of the comparison.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.simulator import Simulator

pytest.importorskip("openai")
pytest.importorskip("groq")

CASES = 250
TARGETS = ("openai:gpt-4o-mini", "groq:llama-3.1-8b-instant")
CELLS = CASES * len(TARGETS) * 2 * 2  # x temperatures x repeats = 2000
SHARDS = 4


def _suite() -> str:
    # Every third case asks for a word the echoed answer lacks: deterministic failures, so
    # the summary and the gate have something to say.
    cases = "\n".join(
        f"  - {{id: c{i:03d}, vars: {{word: {'keep' if i % 3 else 'drop'}-{i}}}}}"
        for i in range(CASES)
    )
    return f"""\
name: sharded
targets: [{", ".join(TARGETS)}]
temperatures: [0.0, 0.7]
repeat: 2
max_tokens: 30
prompt:
  user: "Say {{{{ word }}}}"
assert:
  - {{type: contains, value: keep}}
cases:
{cases}
"""


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with Simulator({"seed": 5, "default": {"latency_ms": 0, "answer": "echo"}}) as simulator:
        for provider in ("openai", "groq"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", simulator.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        yield simulator


#: Fields that differ between any two runs of the same cells.
_VOLATILE = {"run_id", "started_at", "latency_ms", "ttft_ms", "queue_ms", "tokens_per_s"}


def _records(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for line in (folder / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        out[r["nodeid"]] = {
            k: v for k, v in r.items() if k not in _VOLATILE and not k.endswith("_ms")
        }
    return out


def _timeless(value: Any) -> Any:
    """A summary or verdict without latency figures (they differ run to run)."""
    if isinstance(value, dict):
        return {
            k: _timeless(v)
            for k, v in value.items()
            if not any(w in k for w in ("latency", "ttft", "_ms", "tokens_per_s", "stall"))
        }
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-12 relative (sums in another order), lists of names unordered."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        if all(isinstance(x, str) for x in a + b):
            return sorted(a) == sorted(b)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def _verdicts(comparison: dict[str, Any]) -> list[Any]:
    return [
        (
            g["suite"], g["target"], g["temperature"], g["status"], g["verdict"],
            g["paired_cases"], g["worse_cases"],
            [
                (m["metric"], m["verdict"], m["before"], m["after"], m["p_value"])
                for m in g["metrics"]
                if "latency" not in m["metric"]
            ],
        )
        for g in comparison["groups"]
    ]


def _compare(before: Path, after: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    from harness.gate.cli import main as compare

    capsys.readouterr()
    compare([str(before), str(after), "--json", "--fail", "--rootdir", str(root)])
    return json.loads(capsys.readouterr().out)


def test_four_shards_merged_equal_the_whole_run(
    pytester: pytest.Pytester, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main as cli

    pytester.makefile(".yaml", **{"evals/sharded": _suite()})
    root = pytester.path

    def run(out: str, *args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            "evals", "-p", "no:cacheprovider", "--llm-report=false", f"--llm-out={root / out}",
            *args,
        )

    whole = run("whole", f"--llm-cache-dir={root / 'cache-whole'}")
    outcomes = whole.parseoutcomes()
    # cases c000, c003, ... c249 fail: 84 of 250, in each of the 8 target x temp x repeat
    assert (outcomes["passed"], outcomes["failed"]) == (CELLS - 84 * 8, 84 * 8)
    assert sim.request_count() == CELLS

    for k in range(1, SHARDS + 1):
        shard = run(f"shard-{k}", f"--llm-shard={k}/{SHARDS}", f"--llm-cache-dir={root}/cache-{k}")
        assert shard.ret in (0, 1), shard.stdout.str()
        # pytest's own accounting: the rest of the cells are deselected, never run
        shard.stdout.re_match_lines([r".*\d+ deselected.*"])
    # the shards together sent each call once
    assert sim.request_count() == 2 * CELLS

    # each cell in exactly one shard
    whole_records = _records(root / "whole")
    shard_records = [_records(root / f"shard-{k}") for k in range(1, SHARDS + 1)]
    assert len(whole_records) == CELLS
    assert sum(len(s) for s in shard_records) == CELLS
    assert set().union(*shard_records) == set(whole_records)
    assert all(300 < len(s) < 700 for s in shard_records), [len(s) for s in shard_records]
    for k in range(1, SHARDS + 1):
        meta = json.loads((root / f"shard-{k}" / "meta.json").read_text())
        assert meta["shard"] == {"index": k, "count": SHARDS}

    # llm-harness report merges the shards into one run folder, and writes its baseline
    merged = root / "merged"
    code = cli([
        "report", *(str(root / f"shard-{k}") for k in (3, 1, 4, 2)),
        "-o", str(merged / "report.html"), "--save-baseline", str(root / "merged-baseline.jsonl"),
    ])
    assert code == 0
    assert "4 shards merged into one run" in capsys.readouterr().out
    assert _records(merged) == whole_records
    meta = json.loads((merged / "meta.json").read_text())
    assert [s["index"] for s in meta["shards"]] == [1, 2, 3, 4]
    assert meta["price_table_date"] and meta["shard"] is None

    # the same summary (the whole run's summary.json, written at its end); groups come in
    # first-seen order and costs are float sums, so compare per group and to the last ulp
    def groups(folder: Path) -> dict[Any, Any]:
        data = json.loads((folder / "summary.json").read_text())
        return {(g["suite"], g["target"], g["temperature"]): _timeless(g) for g in data}

    whole_groups, merged_groups = groups(root / "whole"), groups(merged)
    assert len(whole_groups) == 4 and set(merged_groups) == set(whole_groups)
    for key, g in whole_groups.items():
        assert _same(merged_groups[key], g), (key, merged_groups[key], g)

    # the same gate verdicts: against a reference in which every cell passed, both the
    # whole run and the merged shards regress in every group, identically
    before = root / "before"
    before.mkdir()
    with open(before / "results.jsonl", "w") as fh:
        for line in (root / "whole" / "results.jsonl").read_text().splitlines():
            r = json.loads(line)
            r.update(status="passed", passed=True)
            r["scores"] = [{**s, "passed": True} for s in r["scores"]]
            fh.write(json.dumps(r) + "\n")
    vs_whole = _compare(before, root / "whole", root, capsys)
    vs_merged = _compare(before, merged, root, capsys)
    assert vs_whole["has_regression"] and vs_merged["has_regression"]
    assert _verdicts(vs_merged) == _verdicts(vs_whole)
    # and the merged run against the whole run: nothing changed
    assert not _compare(root / "whole", merged, root, capsys)["has_regression"]

    # the baseline written from the merged run holds what one written from the whole run does
    from harness.gate.baseline import baseline_from_results, load_baseline
    from harness.results.store import load_results

    from_merged = load_baseline(root / "merged-baseline.jsonl")
    from_whole = baseline_from_results(load_results(root / "whole"))
    assert [_timeless(vars(c)) for c in from_merged.cells] == [
        _timeless(vars(c)) for c in from_whole.cells
    ]

    # llm-harness cache merge folds the shards' caches into one that replays the whole run
    caches = [f"{root}/cache-{k}" for k in range(1, SHARDS + 1)]
    code = cli(["cache", "merge", *caches, f"{root}/merged-cache"])
    assert code == 0
    assert f"{CELLS} answers added, 0 already there" in capsys.readouterr().out
    replay = run("replay", "--llm-cache=replay", f"--llm-cache-dir={root / 'merged-cache'}")
    assert replay.parseoutcomes() == outcomes
    assert sim.request_count() == 2 * CELLS  # nothing sent
    replayed = _records(root / "replay")
    assert all(r["cached"] for r in replayed.values())
