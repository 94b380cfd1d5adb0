"""summary.md: the run in Markdown, sized for a GitHub step summary or a PR comment.

GitHub caps a step summary at 1 MiB and a comment at 65,536 characters; the summary stays
under ``MAX_BYTES`` by dropping table rows (and saying so) rather than being cut mid-table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from harness.report.views import (
    ReportModel,
    build_model,
    fmt_ci,
    fmt_ms,
    fmt_num,
    fmt_rate,
    runs_of,
)
from harness.results.stats import GroupStats
from harness.types import Result

MAX_BYTES = 60_000


def fmt_time(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(ts)))
    except (TypeError, ValueError, OverflowError):
        return "-"


def cell(text: Any) -> str:
    """A table cell: one line, pipes escaped, HTML inert (GitHub renders raw HTML)."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def _run_lines(meta: dict[str, Any]) -> list[str]:
    lines = []
    for m in runs_of(meta):
        versions = m.get("versions") or {}
        parts = [f"run `{cell(m.get('run_id', '?'))}`", fmt_time(m.get("started_at"))]
        if m.get("git_commit"):
            parts.append(f"commit `{cell(m['git_commit'])}`")
        if versions.get("harness"):
            parts.append(f"llm-harness {cell(versions['harness'])}")
        parts.append(f"prices as of {cell(m.get('price_table_date') or 'unknown')}")
        lines.append("- " + " · ".join(parts))
    return lines


def render_markdown(
    results: Sequence[Result],
    meta: dict[str, Any],
    groups: Sequence[GroupStats],
    *,
    model: ReportModel | None = None,
    max_rows: int = 60,
    max_reasons: int = 15,
) -> str:
    model = model or build_model(results, meta, groups)
    while True:
        text = _render(model, max_rows, max_reasons)
        if len(text.encode("utf-8")) <= MAX_BYTES or (max_rows <= 1 and max_reasons <= 1):
            return text
        max_rows, max_reasons = max(1, max_rows // 2), max(1, max_reasons // 2)


def _render(model: ReportModel, max_rows: int, max_reasons: int) -> str:
    share = model.share
    out = ["## llm-harness report", "", *_run_lines(model.meta), f"- cache: {share.text}", ""]
    if share.replayed:
        out += [
            "Replayed cells cost $0 in this run; cost per 1k calls below is what they would "
            "cost live.",
            "",
        ]
    rows = model.rows
    header = (
        "suite",
        "target",
        "temp",
        "cells",
        "pass",
        "95% CI",
        "schema valid",
        "p50 ms",
        "p95 ms",
        "tok/s",
        "$ / 1k calls",
        "errors",
        "retries",
        "cached",
    )
    body = [
        (
            r.suite if r.prompt == "default" else f"{r.suite} [{r.prompt}]",
            r.target,
            r.temperature,
            r.cells,
            fmt_rate(r.pass_rate),
            fmt_ci(r.pass_ci),
            fmt_rate(r.schema_rate),
            fmt_ms(r.latency_p50),
            fmt_ms(r.latency_p95),
            fmt_num(r.tokens_per_s),
            r.cost_text,
            fmt_rate(r.error_rate),
            fmt_rate(r.retry_rate),
            f"{r.cached}/{r.ran}",
        )
        for r in rows[:max_rows]
    ]
    out += ["### Leaderboard", "", *_table(header, body)]
    if len(rows) > max_rows:
        out.append(f"\n_{len(rows) - max_rows} more rows in report.html_")
    fails = model.failures
    out += ["", "### Top failure reasons", ""]
    if not fails:
        out.append("No failures.")
    else:
        reasons = [
            (
                g.count,
                g.kind,
                g.reason or "-",
                g.targets_text,
                ", ".join(list(dict.fromkeys(e[2] for e in g.examples))[:3]),
            )
            for g in fails[:max_reasons]
        ]
        out += _table(("cells", "assertion", "reason", "targets", "e.g. cases"), reasons)
        if len(fails) > max_reasons:
            out.append(f"\n_{len(fails) - max_reasons} more reasons in report.html_")
    return "\n".join(out) + "\n"
