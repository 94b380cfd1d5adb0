"""Prompt changes end to end on the simulator: two variants judged against each other in one
run, a changed prompt judged against the baseline, the cache across variant edits, and
``llm-harness diff`` / ``compare --prompts`` on the stored run."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main as cli_main
from harness.simulator import Simulator

pytest.importorskip("openai")

SCHEMA = "{type: object, properties: {ok: {type: boolean}}, required: [ok]}"
N = 100
#: v1 answers invalid JSON for cases 0-9 (90% valid), v2 for 5-44 (60% valid): 35 cases
#: flip to invalid under v2 and 5 the other way.
V1_BAD = range(0, 10)
V2_BAD = range(5, 45)


def _cases(n: int = N, extra: dict[int, str] | None = None) -> str:
    rows = []
    for i in range(n):
        more = (extra or {}).get(i, "")
        rows.append(f"  - {{id: c{i:03d}, vars: {{n: '[c{i:03d}]'}}{more}}}")
    return "\n".join(rows)


def _variant_suite(v2: str = "Item {{ n }}/two: answer as JSON.") -> str:
    return f"""\
name: items
targets: [openai:gpt-4o-mini]
temperatures: [0.0]
max_tokens: 50
schema: {SCHEMA}
prompts:
  - id: v1
    user: "Item {{{{ n }}}}/one: answer as JSON."
  - id: v2
    user: "{v2}"
assert:
  - type: schema-valid
cases:
{_cases()}
"""


def _single_suite(user: str, extra: dict[int, str] | None = None) -> str:
    return f"""\
name: items
targets: [openai:gpt-4o-mini]
temperatures: [0.0]
max_tokens: 50
schema: {SCHEMA}
prompt:
  user: "{user}"
assert:
  - type: schema-valid
cases:
{_cases(extra=extra)}
"""


def _script() -> dict[str, Any]:
    canned = {f"[c{i:03d}]/one": "not json" for i in V1_BAD}
    canned |= {f"[c{i:03d}]/two": "not json" for i in V2_BAD}
    return {"seed": 1, "default": {"latency_ms": 1, "canned": canned,
                                   "canned_default": '{"ok": true}'}}


class Project:
    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        # These tests judge rates; a shared CI machine's timing noise is no verdict here
        # (test_gate_e2e.py covers the latency verdict on purpose).
        pytester.makefile(
            ".toml",
            pyproject="[tool.llm-harness.gate]\nlatency_slack_ms = 100000\ncost_tolerance = 1.5\n",
        )
        self.count = 0
        self.sim: Simulator | None = None

    @contextmanager
    def simulator(self) -> Iterator[Simulator]:
        # One simulator for runs that must share cache entries (its port is in the key).
        with Simulator(_script()) as sim:
            self.monkeypatch.setenv("OPENAI_BASE_URL", sim.base_url("openai"))
            self.sim = sim
            yield sim

    def run(self, *args: str) -> tuple[pytest.RunResult, Path]:
        self.count += 1
        out = f"runs/{self.count}"
        result = self.pytester.runpytest(
            "-p", "no:cacheprovider", "-q", "--llm-report=false", f"--llm-out={out}", *args
        )
        return result, self.pytester.path / out


def _json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def test_two_variants_are_compared_paired_and_v2_is_significantly_worse(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makefile(".yaml", **{"evals/items": _variant_suite()})
    project = Project(pytester, monkeypatch)
    with project.simulator() as sim:
        result, run_dir = project.run()
        assert sim.request_count() == 2 * N
    result.assert_outcomes(passed=90 + 60, failed=10 + 40)
    result.stdout.fnmatch_lines(
        [
            "*llm-harness prompt variants*",
            "*items*openai:gpt-4o-mini*v2*v1*90% -> 60%*90% -> 60%*REGRESSION: pass rate, schema valid",
            "*significantly worse: items v2 vs v1 (openai:gpt-4o-mini)*",
        ]
    )
    summary = _json(run_dir / "summary.json")
    v2 = next(g for g in summary if g["prompt"] == "v2")
    assert (v2["pass_rate"], v2["schema_valid_rate"]) == (0.6, 0.6)
    versus = v2["versus_reference"]
    assert versus["reference"] == "v1" and versus["verdict"] == "regression"
    schema = versus["metrics"]["schema_valid_rate"]
    assert (schema["b"], schema["c"], schema["test"]) == (35, 5, "McNemar exact")
    assert schema["p_value"] < 1e-4 and schema["verdict"] == "regression"
    assert "versus_reference" not in next(g for g in summary if g["prompt"] == "v1")
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert {r["prompt_id"] for r in records} == {"v1", "v2"}

    # The stored run, two ways: compare --prompts gives the same verdict ...
    capsys.readouterr()  # (the inner run's output)
    assert cli_main(["compare", str(run_dir), "--prompts", "v1,v2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = data["rows"]
    assert row["metrics"]["schema_valid_rate"]["p_value"] == pytest.approx(schema["p_value"])
    # ... and diff lists exactly the 40 flipped cases, worse ones first.
    assert cli_main(["diff", str(run_dir), "--prompts", "v1,v2", "--limit", "100"]) == 0
    text = capsys.readouterr().out
    assert "100 cells paired" in text
    assert "40 changed verdict (35 worse, 5 better" in text
    assert "- items / c010 [v2 | openai:gpt-4o-mini t=0 r0]: passed -> FAILED" in text
    assert "+ items / c000 [v2 | openai:gpt-4o-mini t=0 r0]: FAILED -> passed" in text
    assert "c050" not in text  # unchanged
    assert text.index("c044") < text.index("+ items / c000")
    assert "not json" in text and '{"ok": true}' in text  # both answers, side by side

    # -k selects one variant by its label in the item id.
    with project.simulator():
        only_v2, _ = project.run("-k", "v2", "--llm-cache=off")
    only_v2.assert_outcomes(passed=60, failed=40)


def test_cached_rerun_calls_nothing_and_editing_v2_calls_only_v2(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".yaml", **{"evals/items": _variant_suite()})
    project = Project(pytester, monkeypatch)
    with project.simulator() as sim:
        project.run()
        assert sim.request_count() == 2 * N
        sim.reset()
        again, _ = project.run()
        again.assert_outcomes(passed=150, failed=50)
        assert sim.request_count() == 0
        pytester.makefile(
            ".yaml", **{"evals/items": _variant_suite("Please: item {{ n }}/two, as JSON.")}
        )
        edited, run_dir = project.run()
        edited.assert_outcomes(passed=150, failed=50)
        assert sim.request_count() == N
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert {r["prompt_id"] for r in records if not r["cached"]} == {"v2"}


def test_a_changed_prompt_is_judged_against_the_baseline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    baseline = "baselines/main.json"
    gate = ("--llm-cache=off", f"--llm-baseline={baseline}", "--llm-gate=fail")
    project = Project(pytester, monkeypatch)
    step_summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    pytester.makefile(".yaml", **{"evals/items": _single_suite("Item {{ n }}/one: as JSON.")})
    with project.simulator():
        first, _ = project.run("--llm-cache=off", f"--llm-save-baseline={baseline}")
        assert first.ret == pytest.ExitCode.TESTS_FAILED  # 10 invalid answers
        saved = _json(pytester.path / baseline)
        assert saved["version"] == 2 and saved["cells"][0]["prompt"] == "default"
        assert saved["prompts"][0]["messages"] == [["user", "Item [c000]/one: as JSON."]]

        # The prompt text edited (same label): 35 cases flip to invalid -> exit 6.
        pytester.makefile(".yaml", **{"evals/items": _single_suite("Item {{ n }}/two: as JSON.")})
        worse, worse_dir = project.run(*gate, "--llm-gate-md=gate.md")
        assert worse.ret == 6
        worse.stdout.fnmatch_lines(
            [
                "*prompt changed (100 of 100 paired cases)*",
                "*- user: Item [[]c000]/one: as JSON.",
                "*+ user: Item [[]c000]/two: as JSON.",
                "*gate: REGRESSION*items openai:gpt-4o-mini t=0 pass rate (prompt changed)*",
                "*GATE FAILED*",
            ]
        )
        (group,) = _json(worse_dir / "gate.json")["groups"]
        assert group["not_comparable_cases"] == [] and len(group["prompt_changed_cases"]) == 100
        schema = next(m for m in group["metrics"] if m["metric"] == "schema_valid_rate")
        assert (schema["b"], schema["c"], schema["verdict"]) == (35, 5, "regression")
        md = (pytester.path / "gate.md").read_text("utf-8")
        assert "regression" in md and "Cases whose verdict changed (40)" in md
        assert "| items / c010 r0 | default | openai:gpt-4o-mini | passed | FAILED |" in md
        assert step_summary.read_text("utf-8") == md

        # A neutral rewording with the same answers: pytest's own status, no change.
        pytester.makefile(
            ".yaml", **{"evals/items": _single_suite("Please, item {{ n }}/one: JSON.")}
        )
        same, same_dir = project.run(*gate)
        assert same.ret == pytest.ExitCode.OK  # only the baseline's own failures
        same.stdout.fnmatch_lines(
            ["*gate: no regression, prompt changed (default): no significant change*"]
        )
        (group,) = _json(same_dir / "gate.json")["groups"]
        assert {m["metric"]: m["verdict"] for m in group["metrics"]}["pass_rate"] == (
            "no significant change"
        )

        # An edited assertion in one case: that case alone is not comparable. (The baseline
        # read from git this time, as a pull request reads main's: the work-tree copy is
        # broken on purpose and must not be read.)
        _commit(pytester.path, baseline)
        (pytester.path / baseline).write_text("{}", "utf-8")
        extra = {7: ", assert: [{type: contains, value: ok}]"}
        pytester.makefile(
            ".yaml", **{"evals/items": _single_suite("Item {{ n }}/one: as JSON.", extra)}
        )
        edited, edited_dir = project.run(
            "--llm-cache=off", f"--llm-baseline=git:HEAD:{baseline}", "--llm-gate=fail"
        )
    assert edited.ret == pytest.ExitCode.OK
    (group,) = _json(edited_dir / "gate.json")["groups"]
    assert group["not_comparable_cases"] == ["c007"]
    assert group["not_comparable_reason"] == "test changed"
    assert group["prompt_changed_cases"] == [] and group["paired_cases"] == N - 1
    edited.stdout.fnmatch_lines(["*not comparable, test changed (1): c007*"])


def _commit(repo: Path, path: str) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", path], ["commit", "-q", "-m", "baseline"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)


def test_variants_restricted_per_target(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = _variant_suite().replace(
        "targets: [openai:gpt-4o-mini]",
        "targets:\n  - openai:gpt-4o-mini\n"
        "  - {provider: openai, model: gpt-4o, id: big, prompts: [v2]}",
    )
    pytester.makefile(".yaml", **{"evals/items": suite})
    project = Project(pytester, monkeypatch)
    with project.simulator():
        result, _ = project.run("--collect-only")
    result.stdout.fnmatch_lines(["*c000*v2|big-t0-r0*"])
    assert "v1|big" not in result.stdout.str()
    assert "300 tests collected" in result.stdout.str()
