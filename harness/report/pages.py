"""The per-cell data of a big report, split into page files beside report.html.

Up to ``SPLIT_OVER`` cells, report.html carries every cell's details itself (one file).
Above it, the page would grow by ~1 KB per cell (50,000 cells: ~40 MB, slow to open), so
the details move out: report.html keeps what the summary, the matrix and the filters need
for every cell (case, column, repeat, status, replayed: the first ``LIGHT_FIELDS`` of
``html.CELL_FIELDS``) and each case's id, and ``<report stem>-data/cells-NNNN.js`` holds the
rest (outputs, prompts, scores, timings, variables) of at most ``PAGE_CELLS`` cells and
``PAGE_BYTES`` bytes, whole cases only, so opening a case loads exactly one page. Fewer cells
with long answers or prompts are split too, past ``SPLIT_BYTES`` of details.

A page is a script, because a page opened from ``file://`` may load a script beside it but
may not ``fetch`` a file: ``window.llmReportPage(TOKEN, K, DATA)``, with DATA the JSON of
``html.script_json`` (every ``<`` escaped). The report's own script defines that function
and writes the data with ``textContent`` only, as it does for embedded data. TOKEN is a hash
of the pages, so a page left over from another rendering is refused, never mixed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from harness.types import Result

#: A report of more cells than this is split into pages.
SPLIT_OVER = 5000
#: ... or when the cells' details would make report.html larger than this (long answers).
SPLIT_BYTES = 8_000_000
#: A page file holds whole cases, up to this many cells and bytes.
PAGE_CELLS = 2000
PAGE_BYTES = 4_000_000
#: Leading CELL_FIELDS that stay in report.html for every cell.
LIGHT_FIELDS = 5
PAGE_NAME = "cells-{:04d}.js"
#: Page file names this module writes (and so may remove when it rewrites a report).
_PAGE_GLOB = "cells-*.js"


def paged_by_count(cells: int) -> bool:
    """Whether a (split) report of this many cells is paged whatever its details weigh:
    its pages are then made from the records one at a time (split_records)."""
    return cells > SPLIT_OVER


def data_dir(html_path: Path) -> Path:
    """Where the pages of ``html_path`` go: ``report.html`` -> ``report-data/``."""
    return html_path.with_name(f"{html_path.stem}-data")


@dataclass
class Split:
    """The blob left in report.html, and the text of each page file in order."""

    index: dict[str, Any]
    pages: Sequence[str]


def split(
    data: dict[str, Any],
    dir_name: str,
    page_cells: int = PAGE_CELLS,
    page_bytes: int = PAGE_BYTES,
) -> Split:
    """Cut ``html.build_data``'s blob into an index and pages of whole cases, each of at
    most ``page_cells`` cells and ``page_bytes`` bytes (a single case larger than that is
    one page of its own)."""
    from harness.report.html import script_json

    cells: list[list[Any]] = data["cells"]
    case_field = data["fields"].index("case")
    prompt_field = data["fields"].index("prompt")
    texts = _Texts(
        rows=[script_json([i, cell]) for i, cell in enumerate(cells)],
        vars=[script_json([c, vs]) if vs else "" for c, (_, _, vs) in enumerate(data["cases"])],
        prompts=[script_json(messages) for messages in data["prompts"]],
        cell_case=[cell[case_field] for cell in cells],
        cell_prompt=[cell[prompt_field] for cell in cells],
    )
    index = {
        **data,
        "cells": [cell[:LIGHT_FIELDS] for cell in cells],
        "cases": [[case[0], case[1], None] for case in data["cases"]],
        "prompts": [],
    }
    return _paged(index, texts, dir_name, page_cells, page_bytes)


def split_records(
    records: Iterable[Result],
    labels: dict[Any, str],
    dir_name: str,
    page_cells: int = PAGE_CELLS,
    page_bytes: int = PAGE_BYTES,
) -> Split:
    """What split(build_data(records)) gives, from records read one at a time: each cell's
    details are kept as the JSON text of its page row, never as objects, so the records
    (read back from results.jsonl) and their rows come and go one by one."""
    from harness.report.html import CELL_FIELDS, CellRows, script_json

    prompt_field = CELL_FIELDS.index("prompt")
    rows = CellRows(labels)
    texts = _Texts()
    light: list[list[Any]] = []
    for i, r in enumerate(records):
        row, first = rows.row(r)
        if first:
            texts.vars.append(script_json([row[0], r.vars]) if r.vars else "")
        texts.rows.append(script_json([i, row]))
        texts.cell_case.append(row[0])
        texts.cell_prompt.append(row[prompt_field])
        light.append(row[:LIGHT_FIELDS])
    texts.prompts = list(rows.prompts)
    index = rows.blob(light, [None] * len(rows.cases), prompts=False)
    return _paged(index, texts, dir_name, page_cells, page_bytes)


@dataclass
class _Texts:
    """The JSON texts pages are made of: each cell's row (``[i,[...]]``), each case's vars
    (``[c,{...}]``, "" for none), each prompt's messages; each cell's case and prompt."""

    rows: list[str] = field(default_factory=list)
    vars: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    cell_case: list[int] = field(default_factory=list)
    cell_prompt: list[int] = field(default_factory=list)


def _paged(
    index: dict[str, Any], texts: _Texts, dir_name: str, page_cells: int, page_bytes: int
) -> Split:
    by_case: list[list[int]] = [[] for _ in texts.vars]
    for i, c in enumerate(texts.cell_case):
        by_case[c].append(i)
    prompt_text: dict[int, str] = {}  # a prompt's JSON, made once however many pages use it

    # Each page as JSON fragments, sized as they are made: the page cut is exact in bytes.
    # Each text is dropped once it is in its page's body, and each page's fragments once
    # the body is made: at 50,000 cells every copy held is another ~12 MB.
    bodies: list[str] = []
    page = Page()
    case_page: list[int] = []
    for c, idxs in enumerate(by_case):
        rows = ",".join(texts.rows[i] for i in idxs)
        for i in idxs:
            texts.rows[i] = ""
        var = texts.vars[c]
        used = {texts.cell_prompt[i] for i in idxs}
        for p in used:
            # (not ``used - prompt_text.keys()``: that walks every key made so far, per case)
            if p not in prompt_text:
                prompt_text[p] = f"[{p},{texts.prompts[p]}]"
                texts.prompts[p] = ""
        own = _size(rows) + _size(var)
        if page.cells and (
            page.cells + len(idxs) > page_cells
            or page.size + own + page.new_prompts(used, prompt_text) > page_bytes
        ):
            bodies.append(page.body())
            page = Page()
        page.size += own + page.new_prompts(used, prompt_text)
        page.cells += len(idxs)
        page.rows.append(rows)
        if var:
            page.vars.append(var)
        for p in used:
            page.prompts[p] = prompt_text[p]
        case_page.append(len(bodies))
    bodies.append(page.body())
    digest = hashlib.sha256()
    for body in bodies:
        digest.update(body.encode("utf-8"))
    token = digest.hexdigest()[:16]
    index["paging"] = {
        "dir": dir_name,
        "token": token,
        "names": [PAGE_NAME.format(k + 1) for k in range(len(bodies))],
        "case_page": case_page,
    }
    return Split(index=index, pages=PageTexts(token, bodies))


class PageTexts(Sequence[str]):
    """Each page file's text, made when asked for (write_pages writes one at a time): the
    bodies alone are the pages' size already."""

    def __init__(self, token: str, bodies: list[str]) -> None:
        self.token = token
        self._bodies = bodies

    def __len__(self) -> int:
        return len(self._bodies)

    @overload
    def __getitem__(self, k: int) -> str: ...
    @overload
    def __getitem__(self, k: slice) -> list[str]: ...
    def __getitem__(self, k: int | slice) -> str | list[str]:
        if isinstance(k, slice):
            return [self[i] for i in range(len(self))[k]]
        return f'window.llmReportPage("{self.token}",{k % len(self)},{self._bodies[k]});\n'


@dataclass
class Page:
    """One page while it is filled: its JSON fragments and what they weigh."""

    cells: int = 0
    size: int = 0
    rows: list[str] = field(default_factory=list)
    vars: list[str] = field(default_factory=list)
    prompts: dict[int, str] = field(default_factory=dict)

    def new_prompts(self, used: set[int], text: dict[int, str]) -> int:
        """Bytes the prompts in ``used`` would add (a page holds each prompt once)."""
        return sum(_size(text[p]) for p in used if p not in self.prompts)

    def body(self) -> str:
        rows, variables = ",".join(self.rows), ",".join(self.vars)
        prompts = ",".join(self.prompts[p] for p in sorted(self.prompts))
        return f'{{"cells":[{rows}],"prompts":[{prompts}],"vars":[{variables}]}}'


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def write_pages(html_path: Path, pages: Sequence[str]) -> Path | None:
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
