"""report.html: one self-contained page comparing targets (no CDN, nothing fetched).

The page is rendered by jinja2 with autoescape on. Everything per cell (outputs, prompts,
scores) travels as one JSON blob in ``<script type="application/json">`` with every ``<``
written as ``\\u003c``, so no model output can close the tag; the page's script renders it
with ``textContent`` only, so HTML in an answer is shown, never run. Rows are rendered a
page at a time, which keeps 10,000+ cells responsive. Past ``pages.SPLIT_OVER`` cells the
details of each cell move to page files beside the report, loaded when a case is opened
(report/pages.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from markupsafe import Markup

from harness.money import usd_data
from harness.report import charts, pages
from harness.report.chartcache import ChartCache
from harness.report.decision import decide
from harness.report.markdown import fmt_time
from harness.report.metrics_view import metric_rows
from harness.report.views import (
    ALL_SUITES,
    ReportModel,
    build_model,
    cost_per_1k_calls,
    fmt_ci,
    fmt_ms,
    fmt_num,
    fmt_rate,
    temp_label,
)
from harness.results.stats import GroupStats
from harness.types import DEFAULT_PROMPT_ID, Result

#: Per-cell fields in the JSON blob, in array order (the page maps names to positions).
# fmt: off
CELL_FIELDS = (
    "case", "col", "repeat", "status", "cached", "output", "prompt", "scores", "latency_ms",
    "ttft_ms", "queue_ms", "tokens_per_s", "input_tokens", "output_tokens",
    "cached_input_tokens", "cost_usd", "cost_if_live_usd", "finish_reason", "error_kind",
    "error", "skip_reason", "tool_calls", "schema_valid", "retries", "run",
    "provider_ms", "stall_ms",
)
# fmt: on

STATUS_CODE = {"passed": "P", "failed": "F", "error": "E", "skipped": "S"}

#: Longest output and prompt message embedded in full; the rest is in results.jsonl. Keeps
#: one runaway answer from making the page unusable.
MAX_OUTPUT_CHARS = 20_000
MAX_MESSAGE_CHARS = 50_000

log = logging.getLogger("harness.report")


def clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [{len(text) - limit:,} more characters in results.jsonl]"


def _template_text(name: str) -> str:
    return resources.files("harness.report").joinpath("templates", name).read_text("utf-8")


#: One encoder for every script_json call: json.dumps with options builds a new encoder
#: per call, and a large report calls it three times per case.
_SCRIPT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: '<' never appears literally."""
    text = _SCRIPT_JSON.encode(data)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


ColumnKey = tuple[str, float | None, str]


def column_key(r: Result) -> ColumnKey:
    return (r.target, r.temperature, r.prompt_id or DEFAULT_PROMPT_ID)


def column_labels(results: Sequence[Result]) -> dict[ColumnKey, str]:
    """Matrix columns: one per prompt variant x target x temperature; the variant and the
    temperature shown only when there are several."""
    keys = list(dict.fromkeys(column_key(r) for r in results))
    temps: dict[str, set[float | None]] = {}
    for target, temp, _ in keys:
        temps.setdefault(target, set()).add(temp)
    multi = any(len(t) > 1 for t in temps.values())
    variants = len({p for _, _, p in keys}) > 1
    labels = {}
    for target, temp, prompt in keys:
        label = f"{target} · t={temp_label(temp)}" if multi else target
        labels[(target, temp, prompt)] = f"{prompt} · {label}" if variants else label
    return labels


def _ms(x: float | None) -> float | None:
    # A tenth of a millisecond is finer than any network timing; shorter numbers keep the
    # page small at 10,000 cells.
    return None if x is None else round(x, 1)


class CellRows:
    """Each record's row of CELL_FIELDS, one record at a time, with the suite, case, prompt
    and run it names interned (an index, in order of first sight). build_data keeps every
    row and each case's vars as objects; pages.split_records keeps their JSON text only, so
    a 50,000-cell report never holds every cell's details as objects."""

    def __init__(self, labels: dict[ColumnKey, str]) -> None:
        self.labels = labels
        self._col = {key: i for i, key in enumerate(labels)}
        self.suites: dict[str, int] = {}
        #: (suite, case id) -> case index.
        self.cases: dict[tuple[str, str], int] = {}
        #: A prompt's messages ([role, clipped text] each) as script JSON -> its index.
        self.prompts: dict[str, int] = {}
        self.runs: dict[str, int] = {}

    def row(self, r: Result) -> tuple[list[Any], bool]:
        """The record's cell row, and whether it is the first of its case (whose vars the
        caller then keeps)."""
        self.suites.setdefault(r.suite, len(self.suites))
        ckey = (r.suite, r.case_id)
        c = self.cases.get(ckey)
        first = c is None
        if c is None:
            c = self.cases[ckey] = len(self.cases)
        messages = script_json(
            [
                [m.get("role", ""), clip(str(m.get("content", "")), MAX_MESSAGE_CHARS)]
                for m in r.prompt
            ]
        )
        p = self.prompts.setdefault(messages, len(self.prompts))
        scores = [
            [
                s_.get("name", ""),
                s_.get("passed"),
                s_.get("value"),
                s_.get("reason", ""),
                s_.get("weight", 1.0),
            ]
            for s_ in r.scores
        ]
        run = self.runs.setdefault(r.run_id, len(self.runs))
        # fmt: off
        return [
            c, self._col[column_key(r)], r.repeat, STATUS_CODE.get(r.status, "S"),
            1 if r.cached else 0, clip(r.output, MAX_OUTPUT_CHARS), p, scores,
            _ms(r.latency_ms), _ms(r.ttft_ms), _ms(r.queue_ms), _ms(r.tokens_per_s),
            r.input_tokens, r.output_tokens,
            r.cached_input_tokens, usd_data(r.cost_usd), usd_data(r.cost_if_live_usd),
            r.finish_reason,
            r.error_kind, r.error, r.skip_reason, r.tool_calls or None, r.schema_valid,
            r.retries, run,
            _ms(r.provider_ms), _ms(r.stall_ms),
        ], first
        # fmt: on

    def blob(
        self, cells: list[list[Any]], case_vars: list[Any], *, prompts: bool = True
    ) -> dict[str, Any]:
        """build_data's blob of these rows; ``case_vars``: each case's vars (None: none);
        ``prompts=False`` leaves the prompts out (a paged report's index has none)."""
        suites = list(self.suites)
        return {
            "fields": CELL_FIELDS,
            "suites": suites,
            "columns": [
                {"label": label, "target": key[0], "temp": temp_label(key[1]), "prompt": key[2]}
                for key, label in self.labels.items()
            ],
            "runs": list(self.runs),
            "cases": [
                [self.suites[suite], case, case_vars[c]]
                for (suite, case), c in self.cases.items()
            ],
            "prompts": [json.loads(text) for text in self.prompts] if prompts else [],
            "cells": cells,
        }


def build_data(
    results: Sequence[Result], details: Iterable[Result] | None = None
) -> dict[str, Any]:
    """The blob behind the matrix and case details; prompts and suites are interned.
    ``details``: the same results in full, when ``results`` are held slim."""
    rows = CellRows(column_labels(results))
    cells: list[list[Any]] = []
    case_vars: list[Any] = []
    for r in results if details is None else details:
        row, first = rows.row(r)
        if first:
            case_vars.append(r.vars or None)
        cells.append(row)
    return rows.blob(cells, case_vars)


def build_charts(
    results: Sequence[Result],
    overall: Sequence[GroupStats],
    cache: ChartCache | None = None,
) -> dict[str, Any]:
    """Charts per target x temperature over all suites (the provider-selection view);
    ``cache`` keeps drawn charts for a rerun that shows the same numbers."""
    labels = column_labels(results)
    by_key = {
        (g.target, g.temperature, getattr(g, "prompt", DEFAULT_PROMPT_ID)): g for g in overall
    }
    points = []
    unpriced: list[str] = []
    unanswered: list[str] = []
    schema_rows = []
    for key, label in labels.items():
        g = by_key.get(key)
        if g is None:
            continue
        cost = cost_per_1k_calls(g)
        if getattr(g, "unpriced", False):
            unpriced.append(label)
        elif cost is None or g.pass_rate is None:
            unanswered.append(label)
        else:
            points.append(charts.Point(label, cost, g.pass_rate))
        if g.schema_checked and g.schema_valid_rate is not None and g.schema_valid_ci:
            lo, hi = g.schema_valid_ci
            schema_rows.append((label, g.schema_valid_rate, (lo, hi), g.schema_checked))
    latencies: dict[ColumnKey, list[float]] = {key: [] for key in labels}
    for r in results:
        if r.status != "skipped" and r.latency_ms is not None:
            latencies[column_key(r)].append(r.latency_ms)
    frontier = [p.label for p in charts.pareto_frontier(points)]
    return {
        "cost": _drawn(charts.quality_vs_cost, points, cache),
        "frontier": frontier,
        "unpriced": unpriced,
        "unanswered": unanswered,
        "latency": _drawn(
            charts.latency_distribution,
            [(labels[k], v) for k, v in latencies.items() if v],
            cache,
        ),
        "schema": _drawn(charts.schema_validity, schema_rows, cache),
    }


def _drawn(chart: Any, data: Any, cache: ChartCache | None = None) -> str | None:
    """A chart's SVG, or None (the page then shows no chart) when there is nothing to show
    (known here, before the cache or matplotlib is asked) or it cannot be drawn: a chart
    must never cost the report, summary.md or the exports."""
    if not data:
        return None
    try:
        svg: str | None = chart(data) if cache is None else cache.drawn(chart, data)
    except Exception as exc:
        log.warning("chart %s not drawn: %s: %s", chart.__name__, type(exc).__name__, exc)
        return None
    return svg


@dataclass
class Rendered:
    """report.html's text, and the page files beside it (none for a one-file report)."""

    html: str
    pages: Sequence[str]


def render_html(
    results: Sequence[Result],
    meta: dict[str, Any],
    groups: Sequence[GroupStats],
    *,
    model: ReportModel | None = None,
    comparisons: dict[str, Any] | None = None,
) -> str:
    """report.html as one file, whatever the number of cells."""
    return render_report(
        results, meta, groups, model=model, comparisons=comparisons, split=False
    ).html


def render_report(
    results: Sequence[Result],
    meta: dict[str, Any],
    groups: Sequence[GroupStats],
    *,
    model: ReportModel | None = None,
    comparisons: dict[str, Any] | None = None,
    data_dir: str = "report-data",
    split: bool = True,
    chart_cache: ChartCache | None = None,
    details: Callable[[], Iterable[Result]] | None = None,
) -> Rendered:
    """report.html, with its cell details in page files (report/pages.py) under
    ``data_dir`` (a folder name beside the page) when ``split`` is on and there are more
    than ``pages.SPLIT_OVER`` cells or their details pass ``pages.SPLIT_BYTES``.
    ``details``: ``results`` in full for the case details (see write_reports)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_text),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        rate=fmt_rate,
        ci=fmt_ci,
        ms=fmt_ms,
        num=fmt_num,
        time=fmt_time,
    )
    model = model or build_model(results, meta, groups)
    runs = model.runs
    suites = list(dict.fromkeys(r.suite for r in results))
    decision = decide(model.overall, results)
    full = details() if details is not None else None
    if split and pages.paged_by_count(len(results)):
        # Paged in any case: made from the records one at a time, keeping text, not rows.
        cut = pages.split_records(
            results if full is None else full,
            column_labels(results),
            data_dir,
            pages.PAGE_CELLS,
            pages.PAGE_BYTES,
        )
        data_text, page_texts = script_json(cut.index), cut.pages
    else:
        data_text, page_texts = _data_texts(build_data(results, full), split, data_dir)
    template = env.get_template("report.html.j2")
    # The charts last: drawing one waits for the end of run's exports child first (see
    # chartcache.ChartCache), and everything above is done while that child works.
    chart_data = build_charts(results, model.overall, chart_cache)
    html = template.render(
        title=_title(runs),
        runs=runs,
        share=model.share,
        rows=model.rows,
        all_suites=ALL_SUITES,
        multi_suite=len(suites) > 1,
        suites=suites,
        targets=list(dict.fromkeys(r.target for r in results)),
        charts=chart_data,
        decision=decision,
        multi_temp=len({g.temperature for g in model.overall}) > 1,
        failures=model.failures,
        n_results=len(results),
        css=Markup(_template_text("report.css")),
        js=Markup(_template_text("report.js")),
        data=Markup(data_text),
        paged={"dir": data_dir, "count": len(page_texts)} if page_texts else None,
        chart_svg=lambda name: Markup(chart_data[name] or ""),
        comparisons=comparisons or {},
        metrics=metric_rows(results),
    )
    return Rendered(html=html, pages=page_texts)


def _data_texts(
    data: dict[str, Any], split: bool, data_dir: str
) -> tuple[str, Sequence[str]]:
    """The blob's JSON for report.html, and the page files' texts when it is split. (A
    function of its own so the full blob is freed before the page is rendered.)"""
    text = script_json(data)
    if not split or len(text.encode("utf-8")) <= pages.SPLIT_BYTES:
        return text, []
    cut = pages.split(data, data_dir, pages.PAGE_CELLS, pages.PAGE_BYTES)
    return script_json(cut.index), cut.pages


def _title(runs: list[dict[str, Any]]) -> str:
    ids = [str(m.get("run_id", "")) for m in runs if m.get("run_id")]
    if not ids:
        return "llm-harness report"
    if len(ids) == 1:
        return f"llm-harness report · {ids[0]}"
    return f"llm-harness comparison · {len(ids)} runs"
