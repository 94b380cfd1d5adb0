"""summary.md: leaderboard, failure reasons and cache share, small enough for GitHub."""

from __future__ import annotations

from reportkit import META, XSS, make_result, sample_results

from harness.report.markdown import MAX_BYTES, render_markdown
from harness.results.stats import summarize


def test_markdown_has_leaderboard_failures_and_cache_share() -> None:
    results = sample_results()
    md = render_markdown(results, META, summarize(results))
    assert "### Leaderboard" in md
    assert "| (all suites) | openai:gpt-4o-mini | 0 |" in md
    assert "| extract | local:gemma |" in md
    # Unpriced is said, never shown as $0.
    local_rows = [line for line in md.splitlines() if "local:gemma" in line and "| 0 |" in line]
    assert local_rows and all("unpriced" in line and "$0 " not in line for line in local_rows)
    replayed = sum(r.cached for r in results)
    assert f"{replayed} replayed from cache" in md
    assert "commit `abc1234`" in md and "prices as of 2026-11-01" in md
    assert "### Top failure reasons" in md
    assert "output lacks 'Paris'" in md
    assert "error: transient" in md


def test_markdown_escapes_table_breakers_and_html() -> None:
    reason = f"got {XSS} | not a column"
    results = [
        make_result(status="failed", scores=[{"name": "x", "passed": False, "reason": reason}])
    ]
    md = render_markdown(results, META, summarize(results))
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    assert "\\| not a column" in md


def test_markdown_stays_under_the_size_cap_for_huge_runs() -> None:
    results = [
        make_result(
            suite=f"suite-{i % 40}",
            target=f"prov:model-{i % 50}",
            case_id=f"case-{i}",
            status="failed",
            scores=[{"name": f"check-{i}", "passed": False, "reason": f"reason {'w' * 200} {i}"}],
        )
        for i in range(4000)
    ]
    md = render_markdown(results, META, summarize(results))
    assert len(md.encode("utf-8")) <= MAX_BYTES
    assert "more rows in report.html" in md
    assert "more reasons in report.html" in md


def test_markdown_without_failures_says_so() -> None:
    results = [make_result(case_id=f"c{i}") for i in range(3)]
    md = render_markdown(results, {}, summarize(results))
    assert "No failures." in md
