"""--llm-shard K/N: parsing, the stable split by cell identity, and the plugin's selection."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.run.shard import Shard, cell_identity, parse_shard, shard_of


def test_parse_shard() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard(" 1 / 1 ") == Shard(1, 1)
    assert str(Shard(3, 8)) == "3/8" and Shard(3, 8).to_dict() == {"index": 3, "count": 8}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5/4", "shard 5/4 does not exist"),
        ("0/3", "shard 0/3 does not exist"),
        ("1/0", "shard 1/0 does not exist"),
        ("x", "expected K/N"),
        ("2", "expected K/N"),
        ("-1/4", "expected K/N"),
        ("1.5/4", "expected K/N"),
    ],
)
def test_bad_shard_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shard(text)


def _identities(cases: int, targets: tuple[str, ...]) -> list[str]:
    return [
        cell_identity("suite", f"case-{i}", t, temp, r)
        for i in range(cases)
        for t in targets
        for temp in (0.0, 0.7)
        for r in range(2)
    ]


def test_every_cell_in_exactly_one_shard_and_the_split_is_even() -> None:
    cells = _identities(250, ("openai:gpt-4o-mini", "groq:llama-3.1-8b-instant"))
    assert len(set(cells)) == 2000
    owners = [[k for k in range(1, 5) if Shard(k, 4).keeps(c)] for c in cells]
    assert all(len(o) == 1 for o in owners)
    sizes = Counter(o[0] for o in owners)
    # a fixed hash: the same counts on every machine; each near 500 of 2000
    assert sorted(sizes) == [1, 2, 3, 4] and all(420 <= n <= 580 for n in sizes.values()), sizes


def test_a_cell_keeps_its_shard_when_cells_are_added() -> None:
    before = _identities(50, ("openai:gpt-4o-mini",))
    after = _identities(80, ("openai:gpt-4o-mini", "mistral:mistral-small-latest"))
    assert set(before) <= set(after)
    for identity in before:
        assert shard_of(identity, 3) == shard_of(identity, 3)  # pure
    placed = {c: shard_of(c, 3) for c in after}
    assert all(placed[c] == shard_of(c, 3) for c in before)
    # the identity separates its parts, so ("a", "b c") and ("a b", "c") differ
    assert cell_identity("a", "b", "t", None, 0) != cell_identity("a", "", "t", None, 0)
    assert cell_identity("s", "c", "t", None, 0) != cell_identity("s", "c", "t", 0.0, 0)


# -- the plugin --------------------------------------------------------------------------

SUITE = """\
name: split
targets: [openai:gpt-4o-mini, groq:llama-3.1-8b-instant]
temperatures: [0.0, 0.5]
max_tokens: 20
prompt:
  user: "Say {{{{ word }}}}"
cases:
{cases}
"""


def _suite(n: int) -> str:
    cases = "\n".join(f"  - {{id: c{i}, vars: {{word: w{i}}}}}" for i in range(n))
    return SUITE.format(cases=cases)


def _collected(pytester: pytest.Pytester, *args: str) -> set[str]:
    result = pytester.runpytest_subprocess(
        "evals", "--collect-only", "-q", "-p", "no:cacheprovider", *args
    )
    assert result.ret == 0, result.stdout.str()
    return {line for line in result.stdout.lines if "::" in line}


def test_shards_partition_the_collection_and_stay_put(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/split": _suite(10)})
    pytester.makepyfile(test_plain="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    everything = _collected(pytester, "evals", "test_plain.py")
    assert len(everything) == 10 * 2 * 2 + 2
    shards = [_collected(pytester, "test_plain.py", f"--llm-shard={k}/3") for k in (1, 2, 3)]
    # every item (cells and plain tests alike) in exactly one shard
    assert set().union(*shards) == everything
    assert sum(len(s) for s in shards) == len(everything)
    assert all(shards)

    # more cases and one more target: no existing cell changes shard
    grown = _suite(25).replace(
        "groq:llama-3.1-8b-instant]", "groq:llama-3.1-8b-instant, mistral:mistral-small-latest]"
    )
    pytester.makefile(".yaml", **{"evals/split": grown})
    for k, before in zip((1, 2, 3), shards, strict=True):
        after = _collected(pytester, "test_plain.py", f"--llm-shard={k}/3")
        assert before <= after
        assert len(after) > len(before)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--llm-shard=5/4"], None, "--llm-shard: shard 5/4 does not exist"),
        (["--llm-shard", "0/3"], None, "--llm-shard: shard 0/3 does not exist"),
        (["--llm-shard=x"], None, "--llm-shard: expected K/N"),
        ([], "x", "$LLM_HARNESS_SHARD: expected K/N"),
        (["-o", "llm_shard=7/2"], None, "ini llm_shard: shard 7/2 does not exist"),
    ],
)
def test_bad_shard_is_one_usage_error(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: str | None,
    message: str,
) -> None:
    pytester.makefile(".yaml", **{"evals/split": _suite(2)})
    if env is not None:
        monkeypatch.setenv("LLM_HARNESS_SHARD", env)
    result = pytester.runpytest_subprocess("evals", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR")]
    assert len(errors) == 1 and message in errors[0], result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_a_shard_cannot_write_a_baseline(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/split": _suite(2)})
    result = pytester.runpytest_subprocess(
        "evals", "-p", "no:cacheprovider", "--llm-shard=1/2", "--llm-save-baseline=b.jsonl"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "write the baseline from the merged run" in result.stderr.str()
    assert not Path(pytester.path / "b.jsonl").exists()


def test_meta_json_names_the_shard(pytester: pytest.Pytester, monkeypatch) -> None:
    from harness.simulator import Simulator

    pytester.makefile(".yaml", **{"evals/split": _suite(3)})
    with Simulator({"default": {"latency_ms": 0}}) as sim:
        for provider in ("openai", "groq"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", sim.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        out = pytester.path / "run"
        result = pytester.runpytest_subprocess(
            "evals", "-p", "no:cacheprovider", "--llm-report=false", f"--llm-out={out}",
            "--llm-shard=2/2",
        )
        kept = result.parseoutcomes().get("passed", 0)
        # deselected cells cost no call
        assert sim.request_count() == kept > 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["shard"] == {"index": 2, "count": 2}
    records = (out / "results.jsonl").read_text().splitlines()
    assert len(records) == kept < 12


def test_a_shard_under_xdist_runs_the_same_cells(pytester: pytest.Pytester, monkeypatch) -> None:
    from harness.simulator import Simulator

    pytest.importorskip("xdist")
    pytester.makefile(".yaml", **{"evals/split": _suite(6)})
    serial = _collected(pytester, "--llm-shard=1/2")
    with Simulator({"default": {"latency_ms": 0}}) as sim:
        for provider in ("openai", "groq"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", sim.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        out = pytester.path / "run"
        result = pytester.runpytest_subprocess(
            "evals", "-p", "no:cacheprovider", "--llm-report=false", f"--llm-out={out}",
            "--llm-shard=1/2", "-n", "2",
        )
        assert result.ret == 0, result.stdout.str()
        assert sim.request_count() == len(serial)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert {json.loads(line)["nodeid"] for line in lines} == serial
