"""results.jsonl read back: records in full, older and newer records, lines json writes
that the fast parser refuses, and a reused folder's older lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.results.store import RunStore, encode, iter_records, load_results, parse_line
from harness.types import Result


def result(case: str, **fields: object) -> Result:
    base: dict[str, object] = {
        "run_id": "r1", "suite": "s", "case_id": case, "target": "openai:gpt-4o-mini",
        "provider": "openai", "model": "gpt-4o-mini", "temperature": 0.0, "repeat": 0,
        "status": "passed", "passed": True,
    }
    base.update(fields)
    return Result(**base)  # type: ignore[arg-type]


def test_a_record_reads_back_equal_whether_whole_older_or_newer() -> None:
    r = result("c1", output="hi", prompt=[{"role": "user", "content": "x"}], vars={"a": 1},
               latency_ms=12.5, scores=[{"name": "contains", "passed": True}])
    whole = json.loads(encode(r))
    assert Result.from_dict(whole) == r
    older = {k: v for k, v in whole.items() if k not in ("stall_ms", "prompt_id", "metadata")}
    back = Result.from_dict(older)
    assert back.prompt_id == "default" and back.metadata == {} and back.stall_ms is None
    assert back.output == "hi" and back.vars == {"a": 1}
    newer = {**whole, "field_of_a_later_version": 1}
    assert Result.from_dict(newer) == r


def test_a_line_json_writes_but_the_fast_parser_refuses_still_reads() -> None:
    line = json.dumps({"output": "half \ud800 a surrogate", "n": 1.5}).encode()
    assert parse_line(line) == {"output": "half \ud800 a surrogate", "n": 1.5}
    with pytest.raises(json.JSONDecodeError):  # what the readers' messages are made of
        parse_line(b'{"torn": ')


def test_a_writer_reads_back_only_its_own_lines_in_order(tmp_path: Path) -> None:
    earlier = RunStore(tmp_path)
    earlier.append(result("old"))
    earlier.close()
    store = RunStore(tmp_path)
    assert list(store.read_back()) == []  # nothing written by this one yet
    mine = [result(f"c{i}", output=f"answer {i}") for i in range(3)]
    for r in mine:
        store.append(r)
    assert list(store.read_back()) == mine
    store.close()
    assert list(store.read_back()) == mine  # still, once closed
    assert [r.case_id for r in load_results(tmp_path)] == ["old", "c0", "c1", "c2"]
    assert sum(1 for _ in iter_records(tmp_path)) == 4


def test_records_held_slim_share_equal_score_lists_but_never_mix_values_of_other_types() -> None:
    from harness.run import session

    shared = session._SharedParts()
    ok = [{"name": "contains", "passed": True, "value": True, "reason": "", "weight": 1.0}]
    first, same = result("a", scores=ok), result("b", scores=[dict(ok[0])])
    for r in (first, same):
        session._hold_slim(r, shared)
    assert same.scores is first.scores
    # True == 1 == 1.0, but a score of 1 is not the score True.
    one = result("c", scores=[{**ok[0], "value": 1}])
    session._hold_slim(one, shared)
    assert one.scores is not first.scores and one.scores[0]["value"] is not True
    # A value that cannot be hashed is held as it came.
    listed = result("d", scores=[{**ok[0], "value": [1, 2]}])
    session._hold_slim(listed, shared)
    assert listed.scores[0]["value"] == [1, 2]
    assert first.output is None and first.prompt == []


def test_the_table_of_shared_score_lists_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.run import session

    monkeypatch.setattr(session, "SHARED_SCORE_LISTS", 3)
    shared = session._SharedParts()
    for i in range(10):
        shared.scores_of([{"name": "similar", "value": i / 10}])
    assert len(shared.scores) == 3


def test_records_held_slim_share_repeated_numbers_of_the_same_type_only() -> None:
    from harness.run import session

    shared = session._SharedParts()
    costs = [float("0.000123"), float("0.000123")]
    first = result("a", cost_usd=costs[0], input_tokens=1200, cost_if_live_usd=1200.0)
    second = result("b", cost_usd=costs[1], input_tokens=int("1200"), cost_if_live_usd=1.5)
    assert second.cost_usd is not first.cost_usd and second.input_tokens is not first.input_tokens
    for r in (first, second):
        session._hold_slim(r, shared)
    assert second.cost_usd is first.cost_usd and second.input_tokens is first.input_tokens
    # A count of 1200 and a cost of 1200.0 are equal numbers, not the same value.
    assert type(first.input_tokens) is int and type(first.cost_if_live_usd) is float
    assert second.cost_if_live_usd == 1.5 and first.latency_ms is None
