"""The per-cell data of a big report, split into page files beside report.html.

Up to ``SPLIT_OVER`` cells, report.html carries every cell's details itself (one file).
Above it, the page would grow by ~1 KB per cell (50,000 cells: ~40 MB, slow to open), so
the details move out: report.html keeps what the summary, the matrix and the filters need
for every cell (case, column, repeat, status, replayed: the first ``LIGHT_FIELDS`` of
``html.CELL_FIELDS``) and each case's id, and ``<report stem>-data/cells-NNNN.js`` holds the
rest (outputs, prompts, scores, timings, variables) of about ``PAGE_CELLS`` cells, whole
cases only, so opening a case loads exactly one page.

A page is a script, because a page opened from ``file://`` may load a script beside it but
may not ``fetch`` a file: ``window.llmReportPage(TOKEN, K, DATA)``, with DATA the JSON of
``html.script_json`` (every ``<`` escaped). The report's own script defines that function
and writes the data with ``textContent`` only, as it does for embedded data. TOKEN is a hash
of the pages, so a page left over from another rendering is refused, never mixed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A report of more cells than this is split into pages.
SPLIT_OVER = 5000
#: Cells per page file (whole cases, so a page can hold a few more).
PAGE_CELLS = 2000
#: Leading CELL_FIELDS that stay in report.html for every cell.
LIGHT_FIELDS = 5
PAGE_NAME = "cells-{:04d}.js"
#: Page file names this module writes (and so may remove when it rewrites a report).
_PAGE_GLOB = "cells-*.js"


def data_dir(html_path: Path) -> Path:
    """Where the pages of ``html_path`` go: ``report.html`` -> ``report-data/``."""
    return html_path.with_name(f"{html_path.stem}-data")


@dataclass
class Split:
    """The blob left in report.html, and the text of each page file in order."""

    index: dict[str, Any]
    pages: list[str]


def split(data: dict[str, Any], dir_name: str, page_cells: int = PAGE_CELLS) -> Split:
    """Cut ``html.build_data``'s blob into an index and pages of whole cases."""
    from harness.report.html import script_json

    cells: list[list[Any]] = data["cells"]
    cases: list[list[Any]] = data["cases"]
    prompts: list[Any] = data["prompts"]
    by_case: list[list[int]] = [[] for _ in cases]
    case_field = data["fields"].index("case")
    for i, cell in enumerate(cells):
        by_case[cell[case_field]].append(i)
    case_page: list[int] = []
    groups: list[list[int]] = [[]]
    filled = 0  # cells in the last group
    for c, idxs in enumerate(by_case):
        if groups[-1] and filled + len(idxs) > page_cells:
            groups.append([])
            filled = 0
        groups[-1].append(c)
        filled += len(idxs)
        case_page.append(len(groups) - 1)
    prompt_field = data["fields"].index("prompt")
    bodies = []
    for group in groups:
        rows = [(i, cells[i]) for c in group for i in by_case[c]]
        used = sorted({row[prompt_field] for _, row in rows})
        bodies.append(
            script_json(
                {
                    "cells": rows,
                    "prompts": [[p, prompts[p]] for p in used],
                    "vars": [[c, cases[c][2]] for c in group if cases[c][2]],
                }
            )
        )
    digest = hashlib.sha256()
    for body in bodies:
        digest.update(body.encode("utf-8"))
    token = digest.hexdigest()[:16]
    index = {
        **data,
        "cells": [cell[:LIGHT_FIELDS] for cell in cells],
        "cases": [[case[0], case[1], None] for case in cases],
        "prompts": [],
        "paging": {
            "dir": dir_name,
            "token": token,
            "names": [PAGE_NAME.format(k + 1) for k in range(len(bodies))],
            "case_page": case_page,
        },
    }
    pages = [f'window.llmReportPage("{token}",{k},{body});\n' for k, body in enumerate(bodies)]
    return Split(index=index, pages=pages)


def write_pages(html_path: Path, pages: list[str]) -> Path | None:
    """Write the pages of the report at ``html_path`` (replacing any earlier rendering's);
    with no pages, remove earlier pages. Returns the folder when it holds pages."""
    folder = data_dir(html_path)
    if folder.is_dir():
        for old in folder.glob(_PAGE_GLOB):
            old.unlink()
    if not pages:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        return None
    from harness.report import write_text

    folder.mkdir(parents=True, exist_ok=True)
    for k, text in enumerate(pages):
        write_text(folder / PAGE_NAME.format(k + 1), text)
    return folder
