"""A big run's report: cell details split into page files beside report.html (report/pages.py).

Small N with a low split threshold and page size; the browser side is in
test_report_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from reportkit import META, XSS, blob, make_result

from harness.report import pages, write_reports
from harness.report.html import CELL_FIELDS, build_data, column_labels
from harness.results.stats import summarize
from harness.types import Result

TARGETS = ("openai:gpt-4o-mini", "groq:llama-3.1-8b-instant", "mistral:mistral-small-latest")
PAGE_CALL = re.compile(r'^window\.llmReportPage\("([0-9a-f]{16})",(\d+),(.*)\);\n\Z', re.S)


def _results(cases: int, repeats: int = 1) -> list[Result]:
    # Target-major order, as pytest runs a suite per target: a case's cells are far apart
    # in the results, and the split still keeps each case on one page.
    return [
        make_result(
            case_id=f"case-{i:03d}",
            target=t,
            repeat=r,
            status="failed" if i % 5 == 0 else "passed",
            output=f"answer {i} {t} r{r} {XSS}",
            prompt=[{"role": "user", "content": f"question {i}"}],
            vars={"i": i},
        )
        for t in TARGETS
        for i in range(cases)
        for r in range(repeats)
    ]


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "SPLIT_OVER", 20)
    monkeypatch.setattr(pages, "PAGE_CELLS", 10)


def _page(path: Path) -> tuple[str, int, dict[str, Any]]:
    m = PAGE_CALL.match(path.read_text("utf-8"))
    assert m, path
    return m.group(1), int(m.group(2)), json.loads(m.group(3))


def test_a_big_report_is_split_and_each_page_holds_its_share(
    tmp_path: Path, small_pages: None
) -> None:
    results = _results(cases=17, repeats=2)  # 102 cells, 6 per case
    files = write_reports(tmp_path, results, META, summarize(results))
    folder = tmp_path / "report-data"
    assert files["report-data/"] == folder
    html = files["report.html"].read_text("utf-8")
    index = blob(html)
    paging = index["paging"]
    names = sorted(p.name for p in folder.iterdir())
    assert names == paging["names"] == [f"cells-{k:04d}.js" for k in range(1, len(names) + 1)]
    # 6 cells a case, at most 10 a page: one case per page would waste pages; two per page
    # would pass 10 - so a page holds one case's 6 cells, whole.
    assert len(names) == 17

    # report.html: every cell's case, column, repeat, status and replay mark, nothing more.
    f = {name: i for i, name in enumerate(CELL_FIELDS)}
    assert len(index["cells"]) == len(results)
    assert all(len(c) == pages.LIGHT_FIELDS for c in index["cells"])
    assert CELL_FIELDS[: pages.LIGHT_FIELDS] == ("case", "col", "repeat", "status", "cached")
    assert "answer 3" not in html and "question 3" not in html
    assert index["prompts"] == [] and all(c[2] is None for c in index["cases"])

    seen: dict[int, list[Any]] = {}
    for k, name in enumerate(names):
        token, number, data = _page(folder / name)
        assert token == paging["token"] and number == k
        assert 0 < len(data["cells"]) <= 10
        page_cases = {row[f["case"]] for _, row in data["cells"]}
        # whole cases, and the index says which page each one is on
        for c in page_cases:
            assert paging["case_page"][c] == k
            assert sum(1 for light in index["cells"] if light[0] == c) == sum(
                1 for _, row in data["cells"] if row[f["case"]] == c
            )
        assert {c for c, _ in data["vars"]} == page_cases
        assert {p for p, _ in data["prompts"]} == {row[f["prompt"]] for _, row in data["cells"]}
        for i, row in data["cells"]:
            assert i not in seen
            seen[i] = row
            assert row[: pages.LIGHT_FIELDS] == index["cells"][i]
    # every cell exactly once, with its own output
    assert sorted(seen) == list(range(len(results)))
    for i, r in enumerate(results):
        assert seen[i][f["output"]] == r.output
    # model output in a page is escaped as in the embedded blob: no literal '<'
    assert all("<" not in (folder / n).read_text("utf-8") for n in names)
    # the policy lets the page load its own folder's scripts, still nothing from a network
    assert "script-src 'unsafe-inline' 'self';" in html
    assert "report-data/" in html and "17 files" in html


def test_records_read_one_at_a_time_give_the_pages_of_the_whole_blob() -> None:
    # The end of a big run pages the records as it reads them back (split_records); a
    # blob of a few cells with long answers is paged whole (split): the same index and pages.
    results = _results(cases=17, repeats=2)
    results[4].vars = {}  # a case without vars
    results[7].prompt = [{"role": "user", "content": "question 1"}]  # a prompt used twice
    whole = pages.split(build_data(results), "report-data", 10, 3000)
    streamed = pages.split_records(iter(results), column_labels(results), "report-data", 10, 3000)
    assert streamed.index == whole.index
    assert list(streamed.pages) == list(whole.pages)
    assert len(whole.pages) > 5


def test_a_case_bigger_than_a_page_stays_whole(tmp_path: Path, small_pages: None) -> None:
    results = _results(cases=3, repeats=5)  # 15 cells a case, pages of 10
    results += _results(cases=1, repeats=1)  # 3 more, to pass the split threshold
    write_reports(tmp_path, results, META, summarize(results))
    sizes = [len(_page(p)[2]["cells"]) for p in sorted((tmp_path / "report-data").iterdir())]
    assert sum(sizes) == len(results)
    assert all(n % 3 == 0 or n == 15 for n in sizes)
    assert max(sizes) == 18  # case-000 has 15 of repeats plus 3 of the last set


def test_long_answers_split_a_small_run_and_bound_each_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "SPLIT_BYTES", 30_000)
    monkeypatch.setattr(pages, "PAGE_BYTES", 25_000)
    results = _results(cases=8)  # 24 cells, far under SPLIT_OVER
    for r in results:
        r.output = ("é" * 1000) + r.output  # 2 KB of UTF-8 each
    files = write_reports(tmp_path, results, META, summarize(results))
    names = blob(files["report.html"].read_text("utf-8"))["paging"]["names"]
    sizes = [(tmp_path / "report-data" / n).stat().st_size for n in names]
    # 3 cells of ~2.3 KB a case: 4 cases would pass 25 KB, so 3 cases a page, 2 on the last
    assert len(names) == 3
    assert all(20_000 < size <= 25_000 + 100 for size in sizes[:2])  # + the call around it
    assert [len(_page(tmp_path / "report-data" / n)[2]["cells"]) for n in names] == [9, 9, 6]
    assert sorted(
        row[CELL_FIELDS.index("output")]
        for n in names
        for _, row in _page(tmp_path / "report-data" / n)[2]["cells"]
    ) == sorted(r.output for r in results)
    # the same run with short answers is one file
    for r in results:
        r.output = r.output[1000:]
    write_reports(tmp_path, results, META, summarize(results))
    assert not (tmp_path / "report-data").exists()


def test_a_small_report_stays_one_file(tmp_path: Path, small_pages: None) -> None:
    results = _results(cases=6)  # 18 cells: not over 20
    files = write_reports(tmp_path, results, META, summarize(results))
    assert not (tmp_path / "report-data").exists() and "report-data/" not in files
    html = files["report.html"].read_text("utf-8")
    assert "paging" not in blob(html) and "'self'" not in html
    assert all(len(c) == len(CELL_FIELDS) for c in blob(html)["cells"])


def test_rewriting_a_report_replaces_its_pages(tmp_path: Path, small_pages: None) -> None:
    big = _results(cases=17, repeats=2)
    write_reports(tmp_path, big, META, summarize(big))
    (tmp_path / "report-data" / "notes.txt").write_text("mine")
    smaller = _results(cases=8)  # 24 cells: split, into fewer pages
    write_reports(tmp_path, smaller, META, summarize(smaller))
    names = sorted(p.name for p in (tmp_path / "report-data").glob("cells-*.js"))
    token = blob((tmp_path / "report.html").read_text("utf-8"))["paging"]["token"]
    assert names == blob((tmp_path / "report.html").read_text("utf-8"))["paging"]["names"]
    assert {_page(tmp_path / "report-data" / n)[0] for n in names} == {token}
    # a one-file report removes the pages, and never a file it did not write
    small = _results(cases=2)
    write_reports(tmp_path, small, META, summarize(small))
    assert [p.name for p in (tmp_path / "report-data").iterdir()] == ["notes.txt"]
    (tmp_path / "report-data" / "notes.txt").unlink()
    write_reports(tmp_path, big, META, summarize(big))
    write_reports(tmp_path, small, META, summarize(small))
    assert not (tmp_path / "report-data").exists()


def test_pages_follow_the_html_name(tmp_path: Path, small_pages: None) -> None:
    results = _results(cases=9)
    files = write_reports(
        tmp_path / "run", results, META, summarize(results), html_path=tmp_path / "cmp.html"
    )
    assert files["cmp-data/"] == tmp_path / "cmp-data"
    assert blob((tmp_path / "cmp.html").read_text("utf-8"))["paging"]["dir"] == "cmp-data"
    assert not (tmp_path / "run" / "report-data").exists()


SUITE = """\
name: big
targets: [echo:a, echo:b]
max_tokens: 16
prompt:
  user: "answer {{ i }}"
assert:
  - {type: contains, value: answer}
cases:
""" + "".join(f"  - {{id: c{i:02d}, vars: {{i: {i}}}}}\n" for i in range(15))


def test_a_run_past_the_threshold_writes_a_split_report(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"evals/big": SUITE})
    # The run's own process renders the report: lower its limits there.
    pytester.makeconftest(
        "from harness.report import pages\npages.SPLIT_OVER = 20\npages.PAGE_CELLS = 8\n"
    )
    result = pytester.runpytest_subprocess("evals", "-p", "no:cacheprovider", "--llm-out=out")
    assert result.ret == 0, result.stdout.str()
    out = pytester.path / "out"
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 30
    html = (out / "report.html").read_text("utf-8")
    names = blob(html)["paging"]["names"]
    assert names == sorted(p.name for p in (out / "report-data").iterdir())
    assert len(names) == 4  # 15 cases of 2 cells, 4 cases (8 cells) a page
    f = {name: i for i, name in enumerate(CELL_FIELDS)}
    outputs = sorted(
        row[f["output"]] for n in names for _, row in _page(out / "report-data" / n)[2]["cells"]
    )
    assert outputs == sorted(r["output"] for r in records)
    assert "report-data" in result.stdout.str()
