"""Reports of a run: report.html (self-contained comparison), summary.md, results.csv and
results.parquet. Re-rendered from stored runs by ``llm-harness report`` (report/cli.py).

Never imports providers: everything shown comes from Result records and run metadata.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.results.stats import GroupStats
from harness.types import Result

log = logging.getLogger("harness.report")

__all__ = ["write_reports"]


def write_text(path: Path, text: str) -> Path:
    """Write ``path`` whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)
    return path


def write_reports(
    out_dir: Path,
    results: Sequence[Result],
    meta: dict[str, Any],
    groups: Sequence[GroupStats],
    *,
    html_path: Path | None = None,
    details: Callable[[], Iterable[Result]] | None = None,
    comparisons: dict[str, Any] | None = None,
    exports: bool = True,
    chart_cache: Path | None = None,
    before_drawing: Callable[[], None] | None = None,
) -> dict[str, Path]:
    """Write report.html, summary.md, results.csv and (with pyarrow) results.parquet;
    past ``pages.SPLIT_OVER`` cells, report.html's cell details in ``report-data/``.

    Returns file name -> path of what was written. ``html_path`` overrides where the HTML
    goes (``llm-harness report -o``); the other files always go to ``out_dir``.
    ``comparisons`` (harness.gate.outputs.report_data) adds the comparison view: the gate's
    verdicts against a baseline and prompt variants against their reference, case by case.
    ``exports=False`` leaves out results.csv and results.parquet (the end of a run writes
    them in a child process: harness.run.export_child). ``chart_cache``: a folder where
    drawn charts are kept for a rerun that shows the same numbers (harness.report.chartcache).
    ``before_drawing`` is called once before matplotlib draws anything: with a chart cache,
    only when a chart is not in it; without one, before the report is rendered.
    ``details`` gives ``results`` again in full, one at a time, for the case details, when
    ``results`` are held without their prompts and vars (harness.run.session.RunSession.record).
    """
    from harness.report.exports import write_exports
    from harness.report.html import render_report
    from harness.report.markdown import render_markdown
    from harness.report.pages import data_dir, write_pages
    from harness.report.views import build_model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = list(results)
    groups = list(groups)
    model = build_model(results, meta, groups)
    files: dict[str, Path] = {}
    html_target = Path(html_path) if html_path is not None else out_dir / "report.html"
    html_target.parent.mkdir(parents=True, exist_ok=True)
    folder = data_dir(html_target)
    from harness.report.chartcache import ChartCache

    cache = None
    if chart_cache is not None:
        cache = ChartCache(chart_cache, before_drawing)
    elif before_drawing is not None:
        before_drawing()
    rendered = render_report(
        results, meta, groups, model=model, comparisons=comparisons, data_dir=folder.name,
        chart_cache=cache, details=details,
    )
    # The pages first: report.html never names a page that is not there yet.
    pages_dir = write_pages(html_target, rendered.pages)
    files["report.html"] = write_text(html_target, rendered.html)
    if pages_dir is not None:
        files[f"{folder.name}/"] = pages_dir
    files["summary.md"] = write_text(
        out_dir / "summary.md", render_markdown(results, meta, groups, model=model)
    )
    if exports:
        written, notes = write_exports(results, out_dir)
        files.update(written)
        for note in notes:
            log.warning("%s", note)
    return files
