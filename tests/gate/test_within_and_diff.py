"""Within-run comparisons (variant vs variant, target vs target), case diffs, the template
diff and the report's comparison view, on hand-built records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_helpers import cell

from harness.cli import main as cli_main
from harness.gate import GateSettings, save_baseline
from harness.gate.compare import template_diff
from harness.gate.diff import cells_from_results, pair_cells, pair_columns, render_text
from harness.gate.outputs import judge, report_data, variant_view
from harness.gate.within import column_comparison, variant_comparison
from harness.types import Result


def _two_variants(n: int = 40, worse: int = 20) -> list[Result]:
    out = []
    for i in range(n):
        out.append(cell(f"c{i:03d}", True, prompt_id="v1", output=f"good {i}"))
        ok = i >= worse
        out.append(cell(f"c{i:03d}", ok, prompt_id="v2", output=f"{'good' if ok else 'bad'} {i}"))
    return out


def test_variant_comparison_pairs_each_variant_with_the_first() -> None:
    comparison = variant_comparison(_two_variants(), GateSettings())
    assert comparison is not None
    (group,) = comparison.groups
    assert (group.prompt, group.reference, group.paired_cases) == ("v2", "v1", 40)
    rate = group.metric("pass_rate")
    assert rate is not None and (rate.b, rate.c) == (20, 0)
    assert rate.verdict.value == "regression"
    assert group.prompt_changed_cases == []  # different prompts are the point here
    assert group.metric("pass_rate_floor") is None


def test_no_variant_comparison_for_one_prompt_suites() -> None:
    assert variant_comparison([cell("a"), cell("b")], GateSettings()) is None


def test_target_comparison_pairs_the_same_cases_of_two_targets() -> None:
    results = [cell(f"c{i:03d}", True) for i in range(30)] + [
        cell(f"c{i:03d}", i % 2 == 0, target="groq:llama") for i in range(30)
    ]
    comparison = column_comparison(
        results, "target", "openai:gpt-4o-mini", "groq:llama", GateSettings()
    )
    (group,) = comparison.groups
    assert (group.target, group.reference) == ("groq:llama", "openai:gpt-4o-mini")
    rate = group.metric("pass_rate")
    assert rate is not None and (rate.b, rate.c) == (15, 0)
    with pytest.raises(Exception, match="no cells with target 'groq:nope'"):
        column_comparison(results, "target", "openai:gpt-4o-mini", "groq:nope", GateSettings())


def test_diff_puts_changed_cases_first_with_both_outputs() -> None:
    rows = pair_columns(cells_from_results(_two_variants(6, 2)), "prompt", "v1", "v2")
    assert [r.key[1] for r in rows[:2]] == ["c000", "c001"] and all(r.worse for r in rows[:2])
    assert not any(r.changed for r in rows[2:])
    text = render_text(rows, ("v1", "v2"), width=80)
    assert "6 cells paired, 2 changed verdict (2 worse" in text
    assert "- s / c000 [v2 | openai:gpt-4o-mini t=0 r0]: passed -> FAILED" in text
    assert "B failed: contains:" in text
    line = next(x for x in text.splitlines() if "good 0" in x)
    assert "| bad 0" in line  # side by side on one line
    assert "c003" not in text and "4 unchanged cells not shown" in text
    assert "c003" in render_text(rows, ("v1", "v2"), show_all=True)


def test_diff_wraps_and_truncates_long_answers() -> None:
    long = "word " * 400
    before = cells_from_results([cell("a", True, output=long)])
    after = cells_from_results([cell("a", False, output="short")])
    text = render_text(pair_cells(before, after), ("A", "B"), width=60, max_lines=5)
    assert max(len(line) for line in text.splitlines() if " | " in line) <= 60
    assert "more lines)" in text


def test_template_diff_shows_first_changed_lines_only() -> None:
    old = [["system", "Be brief."], ["user", "line 1\nline 2\nline 3"]]
    new = [["system", "Be brief."], ["user", "line 1\nline two\nline 3"]]
    assert template_diff(old, new) == ["- user: line 2", "+ user: line two"]
    many_old = [["user", "\n".join(f"a{i}" for i in range(20))]]
    many_new = [["user", "\n".join(f"b{i}" for i in range(20))]]
    out = template_diff(many_old, many_new, max_lines=4)
    assert len(out) == 5 and out[-1] == "... (36 more changed lines)"


def test_report_shows_gate_verdicts_and_the_case_by_case_view(tmp_path: Path) -> None:
    from harness.report import write_reports
    from harness.results.stats import summarize

    before = [cell(f"c{i:03d}", True, output="fine") for i in range(30)]
    save_baseline(before, tmp_path / "b.json", {"run_id": "base"})
    now = [cell(f"c{i:03d}", i >= 12, output="<b>oops</b>" if i < 12 else "fine")
           for i in range(30)]
    gate = judge(tmp_path / "b.json", now, GateSettings(), tmp_path)
    assert gate.comparison.has_regression and len(gate.changed) == 12
    data = report_data(gate, variant_view(_two_variants(), GateSettings()))
    files = write_reports(tmp_path / "out", now, {"run_id": "now"}, summarize(now),
                          comparisons=data)
    html = files["report.html"].read_text("utf-8")
    assert 'id="comparison"' in html and 'id="gate-verdict"' in html
    assert "regression" in html.split('id="gate-verdict"')[1][:200]
    assert 'id="f-changed"' in html and html.count('<tr class="changed worse">') == 12 + 20
    assert "<b>oops</b>" not in html and "&lt;b&gt;oops&lt;/b&gt;" in html  # escaped
    assert "Prompt variants against the reference variant" in html


def test_cli_diff_of_two_runs_and_of_a_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def store(name: str, results: list[Result]) -> Path:
        d = tmp_path / name
        d.mkdir()
        (d / "results.jsonl").write_text(
            "".join(json.dumps(r.to_dict()) + "\n" for r in results), "utf-8"
        )
        return d

    a = store("a", [cell("c1", True, output="yes"), cell("c2", True, output="yes")])
    b = store("b", [cell("c1", False, output="no"), cell("c2", True, output="yes")])
    assert cli_main(["diff", str(a), str(b), "--fail-on-change"]) == 1
    out = capsys.readouterr().out
    assert "- s / c1 [openai:gpt-4o-mini t=0 r0]: passed -> FAILED" in out
    assert "c2" not in out
    save_baseline([cell("c1", True), cell("c2", True)], tmp_path / "base.json", {})
    assert cli_main(["diff", str(tmp_path / "base.json"), str(b)]) == 0
    out = capsys.readouterr().out
    assert "no output stored" in out and "| no" in out
    assert cli_main(["diff", str(a), "--prompts", "v1"]) == 2
    assert "expected two different names" in capsys.readouterr().err


def test_report_rerender_of_a_two_variant_run_keeps_the_variant_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text(
        "".join(json.dumps(r.to_dict()) + "\n" for r in _two_variants()), "utf-8"
    )
    assert cli_main(["report", str(run_dir)]) == 0
    html = (run_dir / "report.html").read_text("utf-8")
    assert "Prompt variants against the reference variant" in html
    assert html.count('<tr class="changed worse">') == 20
