"""The report in a real browser: headless Chromium over the DevTools protocol.

Opens report.html from disk and checks: no console errors (a CSP violation would be one),
nothing fetched but the file itself, the leaderboard is there and sorts, a click on a matrix
cell opens every target's output side by side, model output with HTML stays text, and the
filters and pager work. Screenshots are saved in the test's tmp dir.

Two reports are checked: a synthetic one with hostile output and several pages of cases, and
one written by a real run (suite -> runner -> official SDKs -> simulator -> finish).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from cdp import Browser, Page
from reportkit import META, XSS, make_result, sample_results

from harness.report import pages, write_reports
from harness.report.pages import data_dir
from harness.results.stats import summarize
from harness.types import Result

CHROMIUM = shutil.which("chromium")
PWN = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no `chromium` on PATH (Debian: apt-get install chromium)"
    ),
]

Extra = Callable[[Page], Awaitable[None]]


async def search(page: Page, text: str) -> None:
    await page.evaluate(f"document.getElementById('f-search').value = {json.dumps(text)}")
    await page.evaluate("document.getElementById('f-search').dispatchEvent(new Event('input'))")


async def check_report(
    report: Path, tmp_path: Path, n_targets: int | None = None, extra: Extra | None = None
) -> None:
    """The checks every report must pass; ``extra`` adds report-specific ones."""
    assert CHROMIUM is not None
    async with Browser.launch(CHROMIUM, tmp_path / "profile") as browser:
        page = await browser.new_page()
        await page.navigate(report.as_uri())
        await page.wait_until("document.body.dataset.ready === '1'")

        headers = await page.evaluate(
            "[...document.querySelectorAll('#board thead th')].map(th => th.textContent)"
        )
        assert {"target", "pass rate", "schema valid", "p95 ms", "$ / 1k calls"} <= set(headers)
        assert await page.evaluate("document.querySelectorAll('#board tbody tr').length") >= 1

        # The first case opens with one panel per target that answered it.
        row_cells = await page.evaluate(
            "document.querySelector('#case-matrix tbody tr').querySelectorAll('td.cell').length"
        )
        await page.click("#case-matrix td.cell")
        await page.wait_until("!document.getElementById('detail').hidden")
        panels = await page.evaluate("document.querySelectorAll('#detail .side > div').length")
        assert panels == row_cells
        if n_targets is not None:
            assert panels == n_targets
        body = await page.evaluate("document.getElementById('detail-body').textContent")
        assert "Prompt" in body and "Outputs" in body
        await page.screenshot(tmp_path / "report-case-detail.png")
        await page.click("#detail-close")
        assert await page.evaluate("document.getElementById('detail').hidden")

        if extra is not None:
            await extra(page)

        await page.screenshot(tmp_path / "report.png")
        assert await page.evaluate("window.__pwned === undefined")
        assert page.console_errors() == []
        assert page.events("Page.javascriptDialogOpening") == []
        # Nothing but the file itself, and a split report's own pages beside it.
        pages_uri = data_dir(report).as_uri() + "/"
        assert [
            u for u in page.requested_urls() if u != report.as_uri() and not u.startswith(pages_uri)
        ] == []
    for name in ("report.png", "report-case-detail.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def synthetic() -> list[Result]:
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
                    cost_usd=None if t.startswith("local:") else 0.005,
                    cost_if_live_usd=None if t.startswith("local:") else 0.005,
                )
            )
    return results


async def synthetic_checks(page: Page) -> None:
    # Sorting by pass rate (descending) orders the numbers.
    await page.click("#board thead th:nth-child(5)")
    rates = await page.evaluate(
        "[...document.querySelectorAll('#board tbody tr')]"
        ".map(tr => parseFloat(tr.cells[4].dataset.v))"
    )
    assert rates == sorted(rates, reverse=True)

    # 128 cases at 50 per page.
    pager = "document.querySelector('#pager-top .pageinfo').textContent"
    assert "page 1 of 3" in await page.evaluate(pager)
    assert await page.evaluate("document.querySelectorAll('#case-matrix tbody tr').length") == 50
    await page.click("#pager-top button:last-child")
    assert "page 2 of 3" in await page.evaluate(pager)

    # Hostile HTML in every target's output is shown as text.
    await search(page, "bulk-007")
    await page.click("#case-matrix td.cell")
    await page.wait_until("!document.getElementById('detail').hidden")
    title = await page.evaluate("document.getElementById('detail-title').textContent")
    assert title == "bulk / bulk-007"
    outputs = await page.evaluate(
        "[...document.querySelectorAll('#detail pre.output')].map(p => p.textContent)"
    )
    assert outputs == [f"{PWN} 7"] * 3
    # Costs read by the rule of harness/money.py, as in the tables (not "$0.005000").
    detail = await page.evaluate("document.getElementById('detail-body').textContent")
    assert "cost $0.00500" in detail and "cost $0.005000" not in detail
    assert (
        await page.evaluate("document.querySelectorAll('#detail img, #detail script').length") == 0
    )
    await page.click("#detail-close")

    # A replayed cell is labelled as such, never as live.
    await search(page, "case-0")
    await page.click("#case-matrix td.cell")
    await page.wait_until("!document.getElementById('detail').hidden")
    detail = await page.evaluate("document.getElementById('detail-body').textContent")
    assert "replayed from cache" in detail and "live call" not in detail
    assert XSS in detail
    await page.click("#detail-close")

    # "failed only" keeps only rows with a failure or an error.
    await search(page, "")
    await page.click("#f-failed")
    marks = await page.evaluate(
        "[...document.querySelectorAll('#case-matrix tbody tr')]"
        ".map(tr => tr.querySelectorAll('.st-F, .st-E, .st-M').length)"
    )
    assert marks and all(m > 0 for m in marks)

    # Unticking a target removes its column and its leaderboard rows.
    await page.click("#f-targets input[value='local:gemma']")
    heads = await page.evaluate(
        "[...document.querySelectorAll('#case-matrix thead th')].map(th => th.textContent)"
    )
    assert "local:gemma" not in heads and "openai:gpt-4o-mini" in heads
    shown = await page.evaluate(
        "[...document.querySelectorAll('#board tbody tr')].filter(tr => !tr.hidden)"
        ".map(tr => tr.dataset.target)"
    )
    assert shown and "local:gemma" not in shown


def test_synthetic_report_in_headless_chromium(tmp_path: Path) -> None:
    results = synthetic()
    files = write_reports(tmp_path / "run", results, META, summarize(results))
    asyncio.run(check_report(files["report.html"], tmp_path, 3, synthetic_checks))


def test_split_report_in_headless_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 392 cells over 100: the details go to pages of about 40 cells (13 cases) each, loaded
    # from file:// when a case opens; everything the synthetic report shows still works.
    monkeypatch.setattr(pages, "SPLIT_OVER", 100)
    monkeypatch.setattr(pages, "PAGE_CELLS", 40)
    results = synthetic()
    files = write_reports(tmp_path / "run", results, META, summarize(results))
    folder = files["report-data/"]
    assert len(list(folder.glob("cells-*.js"))) >= 9

    async def split_checks(page: Page) -> None:
        await synthetic_checks(page)
        # Only the pages of the cases opened were read.
        loaded = [u for u in page.requested_urls() if u.startswith(folder.as_uri())]
        assert 1 <= len(loaded) <= 3, loaded
    asyncio.run(check_report(files["report.html"], tmp_path, 3, split_checks))
    asyncio.run(missing_pages(files["report.html"], folder, tmp_path))


async def missing_pages(report: Path, folder: Path, tmp_path: Path) -> None:
    """A page that cannot be read says, in the case view, where it should be; once the
    folder is back the same case opens (a failed load is tried again)."""
    assert CHROMIUM is not None
    moved = folder.with_name("moved")
    folder.rename(moved)
    async with Browser.launch(CHROMIUM, tmp_path / "profile-missing") as browser:
        page = await browser.new_page()
        await page.navigate(report.as_uri())
        await page.wait_until("document.body.dataset.ready === '1'")
        await search(page, "bulk-119")
        await page.click("#case-matrix td.cell")
        await page.wait_until("!document.getElementById('detail').hidden")
        text = await page.evaluate("document.getElementById('detail-body').textContent")
        assert "Cannot load report-data/cells-" in text and "keep the report-data/ folder" in text
        assert page.console_errors() == [
            "network: Failed to load resource: net::ERR_FILE_NOT_FOUND"
        ]
        await page.click("#detail-close")
        moved.rename(folder)
        await page.click("#case-matrix td.cell")
        await page.wait_until("!document.getElementById('detail').hidden")
        outputs = await page.evaluate(
            "[...document.querySelectorAll('#detail pre.output')].map(p => p.textContent)"
        )
        assert outputs == [f"{PWN} 119"] * 3
        assert await page.evaluate("window.__pwned === undefined")


SUITE = """\
name: capitals
targets: [openai:gpt-4o-mini, groq:llama-3.1-8b-instant, mistral:mistral-small-latest]
max_tokens: 50
prompt:
  user: "{{ question }}"
assert:
  - {type: contains, value: Paris}
cases:
  - id: paris
    vars: {question: "Where is Paris? <script>window.__pwned=3</script>"}
  - id: rome
    vars: {question: "Where is Rome? <img src=x onerror=window.__pwned=4>"}
"""


def test_report_of_a_real_run_in_headless_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    pytest.importorskip("groq")
    pytest.importorskip("mistralai")
    from harness.api import run_suites
    from harness.simulator import Simulator

    suite = tmp_path / "evals" / "capitals.yaml"
    suite.parent.mkdir()
    suite.write_text(SUITE, "utf-8")
    out = tmp_path / "run"
    # The simulator echoes the question, so one case passes and the other fails, and both
    # outputs carry the HTML from the prompt.
    with Simulator({"default": {"latency_ms": 5}}) as sim:
        for provider in ("openai", "groq", "mistral"):
            monkeypatch.setenv(f"{provider.upper()}_BASE_URL", sim.base_url(provider))
            monkeypatch.setenv(f"{provider.upper()}_API_KEY", "sk-sim")
        results = run_suites([suite], rootdir=tmp_path, out=str(out))
    assert {r.status for r in results} == {"passed", "failed"}
    for name in ("report.html", "summary.md", "results.csv", "results.parquet"):
        assert (out / name).is_file(), name

    async def real_checks(page: Page) -> None:
        await search(page, "rome")
        await page.click("#case-matrix td.cell")
        await page.wait_until("!document.getElementById('detail').hidden")
        outputs = await page.evaluate(
            "[...document.querySelectorAll('#detail pre.output')].map(p => p.textContent)"
        )
        assert len(outputs) == 3 and all("<img src=x onerror" in o for o in outputs)
        await page.click("#detail-close")

    asyncio.run(check_report(out / "report.html", tmp_path, 3, real_checks))
