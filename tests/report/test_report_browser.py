"""The report in a real browser: headless Chromium over the DevTools protocol.

Opens report.html from disk, and checks: no console errors (a CSP violation would be one),
nothing fetched but the file itself, the leaderboard is there and sorts, a click on a matrix
cell opens every target's output side by side, model output with HTML stays text, and the
filters and pager work. A screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from cdp import Browser
from reportkit import META, XSS, make_result, sample_results

from harness.report import write_reports
from harness.stats import summarize

CHROMIUM = shutil.which("chromium")
PWN = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no `chromium` on PATH (Debian: apt-get install chromium)"
    ),
]


def _results() -> list:  # type: ignore[type-arg]
    results = sample_results()
    # Enough cases for several pages, and outputs that try to run code.
    targets = sorted({r.target for r in results})
    for i in range(120):
        for t in targets:
            results.append(
                make_result(
                    suite="bulk",
                    case_id=f"bulk-{i:03d}",
                    target=t,
                    status="failed" if i % 7 == 0 else "passed",
                    output=f"{PWN} {i}",
                    cost_if_live_usd=None if t.startswith("local:") else 0.0002,
                )
            )
    return results


async def _drive(report: Path, tmp_path: Path, n_targets: int) -> None:
    assert CHROMIUM is not None
    async with Browser.launch(CHROMIUM, tmp_path / "profile") as browser:
        page = await browser.new_page()
        await page.navigate(report.as_uri())
        await page.wait_until("document.body.dataset.ready === '1'")

        # Leaderboard present, with rows and the columns that matter.
        headers = await page.evaluate(
            "[...document.querySelectorAll('#board thead th')].map(th => th.textContent)"
        )
        assert {"target", "pass rate", "schema valid", "p95 ms", "$ / 1k calls"} <= set(headers)
        assert await page.evaluate("document.querySelectorAll('#board tbody tr').length") > 3
        # Sorting by pass rate (descending) orders the numbers.
        await page.click("#board thead th:nth-child(5)")
        rates = await page.evaluate(
            "[...document.querySelectorAll('#board tbody tr')]"
            ".map(tr => parseFloat(tr.cells[4].dataset.v))"
        )
        assert rates == sorted(rates, reverse=True)

        # Matrix paged: 128 cases at 50 per page.
        assert "page 1 of 3" in await page.evaluate(
            "document.querySelector('#pager-top .pageinfo').textContent"
        )
        assert (
            await page.evaluate("document.querySelectorAll('#case-matrix tbody tr').length") == 50
        )

        # Open a case whose output is hostile HTML.
        await page.evaluate("document.getElementById('f-search').value = 'bulk-007'")
        await page.evaluate("document.getElementById('f-search').dispatchEvent(new Event('input'))")
        await page.click("#case-matrix td.cell")
        await page.wait_until("!document.getElementById('detail').hidden")
        title = await page.evaluate("document.getElementById('detail-title').textContent")
        assert title == "bulk / bulk-007"
        panels = await page.evaluate("document.querySelectorAll('#detail .side > div').length")
        assert panels == n_targets
        outputs = await page.evaluate(
            "[...document.querySelectorAll('#detail pre.output')].map(p => p.textContent)"
        )
        assert outputs == [f"{PWN} 7"] * n_targets
        assert (
            await page.evaluate(
                "document.querySelectorAll('#detail img, #detail-body script').length"
            )
            == 0
        )
        assert "Prompt" in await page.evaluate("document.getElementById('detail-body').textContent")
        await page.screenshot(tmp_path / "report-case-detail.png")

        # A replayed cell is labelled as such in the detail, never as live.
        await page.click("#detail-close")
        await page.evaluate("document.getElementById('f-search').value = 'case-0'")
        await page.evaluate("document.getElementById('f-search').dispatchEvent(new Event('input'))")
        await page.click("#case-matrix td.cell")
        await page.wait_until("!document.getElementById('detail').hidden")
        detail = await page.evaluate("document.getElementById('detail-body').textContent")
        assert "replayed from cache" in detail and "live call" not in detail
        assert XSS in detail
        await page.click("#detail-close")

        # "failed only" keeps only rows with a failure or error.
        await page.evaluate("document.getElementById('f-search').value = ''")
        await page.evaluate("document.getElementById('f-search').dispatchEvent(new Event('input'))")
        await page.click("#f-failed")
        marks = await page.evaluate(
            "[...document.querySelectorAll('#case-matrix tbody tr')]"
            ".map(tr => tr.querySelectorAll('.st-F, .st-E, .st-M').length)"
        )
        assert marks and all(m > 0 for m in marks)

        await page.screenshot(tmp_path / "report.png")
        assert await page.evaluate("window.__pwned === undefined")
        assert page.console_errors() == []
        assert page.events("Page.javascriptDialogOpening") == []
        assert [u for u in page.requested_urls() if u != report.as_uri()] == []


def test_report_in_headless_chromium(tmp_path: Path) -> None:
    results = _results()
    files = write_reports(tmp_path / "run", results, META, summarize(results))
    n_targets = len({r.target for r in results})
    asyncio.run(_drive(files["report.html"], tmp_path, n_targets))
    for name in ("report.png", "report-case-detail.png"):
        shot = tmp_path / name
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
