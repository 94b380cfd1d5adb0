"""report.html: self-contained, escaped, honest about cache and price."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reportkit import META, XSS, blob, make_result, sample_results

from harness.report import write_reports
from harness.report.html import CELL_FIELDS, MAX_OUTPUT_CHARS, render_html, script_json
from harness.report.views import build_model, failure_groups, reason_key
from harness.results.stats import summarize


def _render(results=None, meta=None) -> str:  # type: ignore[no-untyped-def]
    results = results if results is not None else sample_results()
    return render_html(results, META if meta is None else meta, summarize(results))


def test_model_output_with_script_is_inert_text() -> None:
    results = sample_results()
    html = _render(results)
    # The only <script> elements are the page's own two.
    assert html.count("<script") == 2
    assert "alert(1)" not in html.replace("\\u003cscript>alert(1)\\u003c/script>", "")
    assert "<b>bold</b>" not in html
    data = blob(html)
    fields = {name: i for i, name in enumerate(data["fields"])}
    outputs = {cell[fields["output"]] for cell in data["cells"]}
    assert f"answer 0 {XSS}" in outputs
    assert data["prompts"][0][0][1].endswith("</script><b>bold</b>")
    # The page writes run data with textContent only.
    js = html[html.rindex("<script>") :]
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js


def test_names_and_metadata_with_script_are_escaped_in_the_page() -> None:
    # Suite names, target ids and run metadata are written by the template itself (not
    # through script_json): only jinja's autoescape keeps them text.
    results = sample_results(targets=["openai:gpt-4o-mini", f"openai-compatible:{XSS}"])
    for r in results:
        r.suite += XSS
    meta = {**META, "git_commit": XSS, "argv": [XSS]}
    html = render_html(results, meta, summarize(results))
    assert html.count("<script") == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_script_json_never_contains_a_literal_lt() -> None:
    text = script_json({"x": "</script><!-- \u2028"})
    assert "<" not in text and "\u2028" not in text


def test_report_is_self_contained() -> None:
    html = _render()
    assert "Content-Security-Policy" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html
    assert "<link" not in html
    assert html.count("<svg") == 3  # cost, latency, schema charts inline


def test_metadata_cache_share_and_unpriced() -> None:
    results = sample_results()
    html = _render(results)
    assert "abc1234" in html and "2026-11-01" in html and "openai 1.99.0" in html
    replayed = sum(r.cached for r in results)
    live = len(results) - replayed
    assert re.search(rf'<span class="big">{live}</span> live', html)
    assert re.search(rf'<span class="big">{replayed}</span> replayed from cache', html)
    # Every local:gemma leaderboard row says unpriced for cost, never $0.
    rows = re.findall(r'<tr data-suite="[^"]*" data-target="local:gemma".*?</tr>', html, re.S)
    assert rows and all("unpriced" in row for row in rows)
    assert "Unpriced, not plotted: local:gemma" in html
    data = blob(html)
    i_cached = CELL_FIELDS.index("cached")
    assert sum(c[i_cached] for c in data["cells"]) == replayed


def test_leaderboard_has_one_row_per_group_plus_overall() -> None:
    results = sample_results()
    groups = summarize(results)
    html = _render(results)
    body = html[html.index('id="board"') : html.index("</table>", html.index('id="board"'))]
    assert body.count("<tr data-suite=") == len(groups) + 3  # 3 targets over all suites
    assert body.count('class="overall"') == 3


def test_no_priced_target_and_no_schema_give_notes_not_charts() -> None:
    results = [
        make_result(target="local:gemma", cost_if_live_usd=None, case_id=f"c{i}") for i in range(3)
    ]
    html = _render(results)
    assert "No priced target" in html
    assert "No schema checks in this run" in html
    assert html.count("<svg") == 1  # latency only


def test_failure_groups_merge_reasons_that_differ_in_numbers() -> None:
    rs = [
        make_result(
            case_id=f"c{i}",
            status="failed",
            scores=[{"name": "similar", "passed": False, "reason": f"similarity 0.{i}3 < 0.8"}],
        )
        for i in range(5)
    ]
    rs.append(make_result(case_id="e", status="error", error="HTTP 503", error_kind="transient"))
    groups = failure_groups(rs)
    assert [(g.kind, g.reason, g.count) for g in groups] == [
        ("similar", "similarity N < N", 5),
        ("error: transient", "HTTP N", 1),
    ]
    assert reason_key("a  \n b 12.5") == "a b N"


def test_write_reports_writes_every_file(tmp_path: Path) -> None:
    results = sample_results()
    files = write_reports(tmp_path / "out", results, META, summarize(results))
    assert set(files) == {"report.html", "summary.md", "results.csv", "results.parquet"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in files.values())
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_cost_is_per_1000_calls_even_with_repeats() -> None:
    results = [
        make_result(
            case_id=f"c{i}",
            repeat=rep,
            cost_usd=0.002,
            cost_if_live_usd=0.002,
            status="passed" if (i, rep) != (0, 1) else "failed",
        )
        for i in range(3)
        for rep in range(2)
    ]
    row = build_model(results, META, summarize(results)).rows[0]
    assert row.cost_per_1k == pytest.approx(2.0)  # $0.002 x 1000, not per case (x2 repeats)
    assert row.cost_text == "$2.00"
    assert row.flaky == 1  # c0 passed once and failed once
    html = _render(results)
    assert "$2.00" in html


def test_empty_metadata_renders() -> None:
    results = sample_results()
    html = render_html(results, {}, summarize(results))
    assert "<h1>llm-harness report</h1>" in html


def test_runaway_output_is_clipped_with_a_note() -> None:
    results = [make_result(output="y" * (MAX_OUTPUT_CHARS + 5000))]
    data = blob(_render(results))
    output = data["cells"][0][CELL_FIELDS.index("output")]
    assert output.startswith("y" * MAX_OUTPUT_CHARS)
    assert output.endswith("[5,000 more characters in results.jsonl]")


def test_rendering_leaves_the_users_matplotlib_settings_alone() -> None:
    import matplotlib

    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    html = _render()
    assert html.count("<svg") == 3
    after = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    assert after == before
    assert before["svg.fonttype"] != "none" or before["font.size"] != 9  # defaults differ from RC


def test_each_cell_carries_provider_time_and_client_stall() -> None:
    results = sample_results()
    results[0].provider_ms, results[0].stall_ms = 87.0, 1912.34
    html = _render(results)
    cell = blob(html)["cells"][0]
    assert cell[CELL_FIELDS.index("provider_ms")] == 87.0
    assert cell[CELL_FIELDS.index("stall_ms")] == 1912.3
    # The per-case view names both beside the latency.
    assert '"provider-reported "' in html and '"client stall "' in html
