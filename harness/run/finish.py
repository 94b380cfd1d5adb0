"""End of a run: summary.json, meta.json, report and exports, baseline and gate.

Called once per run (by the plugin's sessionfinish on the controller, or by the library
API). Each step is independent: a failing report never hides the summary or the gate.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError
from harness.money import usd, usd_column
from harness.results import named_metrics
from harness.results.stats import GroupStats, summarize
from harness.run.session import RunSession
from harness.types import DEFAULT_PROMPT_ID

if TYPE_CHECKING:
    from harness.gate.diff import DiffCell
    from harness.gate.outputs import GateView, VariantView
    from harness.run.export_child import ExportProcess

log = logging.getLogger("harness.run.finish")

#: Above this p95 event-loop lag the summary says latencies include client-side delay.
LOOP_LAG_WARN_MS = 20.0
#: A single stall this long is reported too, whatever the percentiles say.
LOOP_STALL_WARN_MS = 100.0
#: How long the end of a run waits for the child writing results.csv and results.parquet.
EXPORT_TIMEOUT_S = 600.0


@dataclass
class FinishOutcome:
    #: (title, text) blocks for the terminal summary.
    sections: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    gate_failed: bool = False
    #: The baseline comparison ran (so, under --llm-gate=fail, it decides the cells' verdict).
    gate_ran: bool = False
    groups: list[GroupStats] = field(default_factory=list)
    #: Cells the budget stopped before their call (harness.calls.budget.BUDGET_EXIT_CODE).
    budget_cut: int = 0


def _fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def _fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:,.0f}"


SUMMARY_COLUMNS = (
    "suite",
    "target",
    "temp",
    "cells",
    "pass",
    "schema",
    "p50 ms",
    "p95 ms",
    "cost $",
    "if live $",
    "replayed",
    "errors",
    "skipped",
)


def summary_text(groups: list[GroupStats]) -> str:
    """The terminal table: one row per (suite, target, temperature), and per prompt
    variant when a suite has several (a ``prompt`` column after ``suite``).

    ``cost $`` is what this run spent (replays cost 0); ``if live $`` what the same answers
    cost when they were live, so a cached rerun still shows the price of the choice.
    """
    variants = any(g.prompt != DEFAULT_PROMPT_ID for g in groups)
    rows: list[tuple[str, ...]] = [_with_prompt(SUMMARY_COLUMNS, "prompt", variants)]
    # Targets that did not run at all (no key, unsupported) get one line below, not a row of
    # dashes per suite and temperature.
    # A target that ran at some temperatures keeps its skipped groups as rows (their
    # skipped column says so): only a target none of whose cells ran is "not run".
    ran_targets = {g.target for g in groups if g.skipped < g.cells}
    shown: list[GroupStats] = []
    not_run: list[GroupStats] = []
    for g in groups:
        (not_run if g.cells and g.target not in ran_targets else shown).append(g)
    for g in shown:
        temp = "default" if g.temperature is None else f"{g.temperature:g}"
        ran = g.cells - g.skipped
        row = (
            g.suite,
            g.target,
            temp,
            str(g.cells),
            _fmt_rate(g.pass_rate),
            _fmt_rate(g.schema_valid_rate),
            _fmt_ms(g.latency_p50_ms),
            _fmt_ms(g.latency_p95_ms),
            "unpriced" if g.unpriced else usd_column(g.cost_usd),
            "unpriced" if g.unpriced else ("-" if not ran else usd_column(g.cost_if_live_usd)),
            str(g.cached),
            str(g.errors),
            str(g.skipped),
        )
        rows.append(_with_prompt(row, g.prompt, variants))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if not_run:
        cells: dict[str, int] = {}
        for g in not_run:
            cells[g.target] = cells.get(g.target, 0) + g.cells
        listed = ", ".join(f"{target} ({n})" for target, n in cells.items())
        lines.append(f"not run, every cell skipped (reasons above): {listed}")
    return "\n".join(lines)


def _with_metrics(
    g: GroupStats, metrics: dict[tuple[Any, ...], dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    row = g.to_dict()
    if g.key in metrics:  # only groups whose assertions name metrics get the key
        row["metrics"] = metrics[g.key]
    return row


def _with_prompt(row: tuple[str, ...], prompt: str, show: bool) -> tuple[str, ...]:
    return (row[0], prompt, *row[1:]) if show else row


def finish_run(session: RunSession) -> FinishOutcome:
    from harness.gcpause import collector_paused

    with collector_paused():
        return _finish_run(session)


def _finish_run(session: RunSession) -> FinishOutcome:
    outcome = FinishOutcome()
    # Every record is on disk already: RunSession.record writes each as it is reported.
    results = session.results
    settings = session.settings
    if not results:
        return outcome
    # What only the processes that made the calls know, read before they end.
    cache_problems = session.cache_problems()
    meta = session.meta()
    lag = meta["loop_lag_ms"]
    # Every call is over: the worker process exits now, so its memory is free before the
    # exports child and the report. The child starts at once (every record is on disk) and
    # writes results.csv and results.parquet while this process summarizes and judges.
    session.end_calls()
    store = session.run_store()
    exports = _start_exports(store.out_dir) if store is not None and settings.report else None
    groups = summarize(results)
    outcome.groups = groups
    replayed = sum(r.cached for r in results)
    live = sum(1 for r in results if not r.cached and r.status in ("passed", "failed"))
    spent = sum(r.cost_usd or 0.0 for r in results)
    text = summary_text(groups)
    text += (
        f"\n{len(results)} cells: {live} answered live ({usd(spent)}), {replayed} replayed "
        f"from cache (cost 0 this run), {sum(r.status == 'error' for r in results)} errors, "
        f"{sum(r.status == 'skipped' for r in results)} skipped"
    )
    largest = (lag or {}).get("largest_stall_ms", (lag or {}).get("max", 0.0))
    if lag is not None and (lag["p95"] > LOOP_LAG_WARN_MS or largest > LOOP_STALL_WARN_MS):
        stalled = sum(1 for r in results if not r.cached and (r.stall_ms or 0) > 0)
        text += (
            "\nnote: the process making the calls was busy while they were in flight "
            f"(event-loop lag p50 {lag['p50']:.0f} ms, p95 {lag['p95']:.0f} ms, largest stall "
            f"{largest:.0f} ms), so latencies include client-side delay: {stalled} calls "
            "overlapped a stall (their stall_ms says how much); lower --llm-concurrency when "
            "comparing latency"
        )
    unpriced = sorted({g.target for g in groups if g.unpriced})
    if unpriced:
        text += f"\nwarning: no price for {', '.join(unpriced)}: cost shown as unpriced, not 0"
    outcome.budget_cut = sum(1 for r in results if r.error_kind == "BudgetExceeded")
    if outcome.budget_cut:
        text += (
            f"\nbudget: {outcome.budget_cut} cells did not run, the --llm-budget of "
            f"${settings.budget} was reached; raise it to run them (exit status 7)"
        )
    for problem in cache_problems:
        text += f"\nwarning: {problem}"
    outcome.sections.append(("llm-harness summary", text))
    metrics = named_metrics.aggregate(results)
    if metrics:
        outcome.sections.append(("llm-harness metrics", named_metrics.metrics_text(metrics)))

    # The run's answers for the case-by-case diffs (variants, gate): read back once.
    case_cells = functools.cache(functools.partial(_case_cells, session))
    variants = _variants(session, outcome, case_cells)
    # Judge before the report is written, so report.html shows the gate's verdicts.
    gate, gate_error = (
        _judge(session, case_cells) if settings.baseline is not None else (None, None)
    )

    if store is not None:
        summary = [_with_metrics(g, metrics) for g in groups]
        if variants is not None:
            _attach_variant_rows(summary, variants.rows)
        outcome.files["summary.json"] = store.write_json("summary.json", summary)
        outcome.files["meta.json"] = store.write_json("meta.json", meta)
        if settings.report:
            _write_reports(store.out_dir, session, outcome, meta, groups, gate, variants, exports)
        where = "\n".join(f"  {name}: {path}" for name, path in outcome.files.items())
        outcome.sections.append(("llm-harness files", f"run {session.run_id}\n{where}"))

    # Compare before saving: with the same path for both, the run is judged against the old
    # baseline, never against itself.
    if settings.baseline is not None:
        outcome.gate_failed = _publish_gate(session, outcome, gate, gate_error)
    if settings.save_baseline is not None:
        from harness.gate import save_baseline

        save_baseline(results, settings.save_baseline, meta, session.prompt_samples())
        outcome.sections.append(
            ("llm-harness baseline", f"baseline written to {settings.save_baseline}")
        )
    return outcome


def _start_exports(out_dir: Path) -> ExportProcess | None:
    """The child writing results.csv and results.parquet from results.jsonl (pyarrow's
    memory comes and goes with it, never in this process); None when no process can start
    (_write_reports then writes them here)."""
    from harness.run.export_child import start_export

    try:
        return start_export(out_dir)
    except OSError as exc:  # no interpreter to start
        log.warning("exports written in this process: no child process (%s)", exc)
        return None


def _write_reports(
    out_dir: Path,
    session: RunSession,
    outcome: FinishOutcome,
    meta: dict[str, Any],
    groups: list[GroupStats],
    gate: GateView | None,
    variants: VariantView | None,
    exports: ExportProcess | None,
) -> None:
    """report.html and summary.md in this process while the exports child (``exports``,
    started with the end of the run) writes results.csv and results.parquet. The child is
    waited for before matplotlib draws a chart (so its memory is gone before matplotlib's
    is taken), or after the report when every chart came from the chart cache. A failing
    report or export never costs the user their results or the gate."""
    settings = session.settings
    waiter = _ExportsWaiter(session, out_dir, outcome, exports)
    from harness.report.pages import paged_by_count

    if paged_by_count(len(session.results)):
        # A paged report (tens of thousands of cells) takes this process ~40-65 MB more
        # while the child holds pandas and pyarrow (~70 MB): one after the other, so that
        # the end of a large run is not its peak (~2 s more at 50,000 cells, 1.22x ->
        # 1.37x the floor; docs/performance.md). Smaller reports are built beside it.
        waiter.wait()
    try:
        comparisons = None
        if gate is not None or variants is not None:
            # Not imported otherwise: the gate's statistics load numpy, which a report
            # whose charts come from the chart cache does not need.
            from harness.gate.outputs import report_data

            comparisons = report_data(gate, variants)
        from harness.report import write_reports

        written = write_reports(
            out_dir,
            session.results,
            meta,
            groups,
            details=session.details,
            comparisons=comparisons,
            exports=False,
            chart_cache=(
                settings.resolved_cache_dir / "charts" if settings.cache.uses_folder else None
            ),
            before_drawing=waiter.wait,
        )
        outcome.files.update(written)
    except Exception as exc:  # the report must never cost the user their results
        log.exception("report failed")
        outcome.sections.append(("llm-harness report", f"report not written: {exc}"))
    finally:
        waiter.wait()
        outcome.files.update(waiter.files)


@dataclass
class _ExportsWaiter:
    """results.csv and results.parquet, waited for (or written here, with no child) once."""

    session: RunSession
    out_dir: Path
    outcome: FinishOutcome
    process: ExportProcess | None
    done: bool = False
    files: dict[str, Path] = field(default_factory=dict)

    def wait(self) -> None:
        if self.done:
            return
        self.done = True
        from harness.report.exports import write_exports
        from harness.run.export_child import ExportFailed

        try:
            if self.process is None:
                exported, notes = write_exports(self.session.details(), self.out_dir)
            else:
                exported, notes = self.process.wait(timeout=EXPORT_TIMEOUT_S)
            for note in notes:
                log.warning("%s", note)
        except Exception as exc:  # the exports must never cost the user the report or results
            if not isinstance(exc, ExportFailed):  # that one says all there is to say
                log.exception("exports failed")
            self.outcome.sections.append(
                (
                    "llm-harness report",
                    f"results.csv and results.parquet not written: {exc}\n"
                    f"  fix: `llm-harness report {self.out_dir}` writes them from results.jsonl",
                )
            )
            return
        self.files = exported


def _variants(
    session: RunSession, outcome: FinishOutcome, case_cells: Callable[[], list[DiffCell]]
) -> VariantView | None:
    """Each prompt variant against its suite's first, when a suite has several."""
    if not any(r.prompt_id != DEFAULT_PROMPT_ID for r in session.results):
        return None
    from harness.gate import load_gate_settings
    from harness.gate.outputs import variant_view

    try:
        view = variant_view(
            session.results, load_gate_settings(session.settings.rootdir), case_cells()
        )
    except ConfigError as exc:
        outcome.sections.append(("llm-harness prompt variants", f"not compared: {exc}"))
        return None
    if view is not None and view.rows:
        outcome.sections.append(("llm-harness prompt variants", view.text))
        store = session.run_store()
        if store is not None:
            store.write_json("variants.json", view.comparison.to_dict())
    return view


def _case_cells(session: RunSession) -> list[DiffCell]:
    """The run's cells for case-by-case diffs, from its full records (held slim here)."""
    from harness.gate.diff import cells_from_results

    return cells_from_results(session.details())


def _attach_variant_rows(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Each non-reference variant's group in summary.json gets ``versus_reference``."""
    by_key = {(r["suite"], r["target"], r["temperature"], r["prompt"]): r for r in rows}
    for g in summary:
        row = by_key.get((g["suite"], g["target"], g["temperature"], g["prompt"]))
        if row is not None:
            g["versus_reference"] = row


def _judge(
    session: RunSession, case_cells: Callable[[], list[DiffCell]]
) -> tuple[GateView | None, ConfigError | None]:
    from harness.gate import load_gate_settings
    from harness.gate.outputs import judge

    settings = session.settings
    assert settings.baseline is not None
    try:
        gate_settings = load_gate_settings(settings.rootdir)
        view = judge(
            settings.baseline,
            session.results,
            gate_settings,
            settings.rootdir,
            session.prompt_samples(),
            case_cells(),
        )
        return view, None
    except ConfigError as exc:
        return None, exc


def _publish_gate(
    session: RunSession,
    outcome: FinishOutcome,
    gate: GateView | None,
    error: ConfigError | None,
) -> bool:
    """The gate's section, summary.md, gate.json, the step summary and --llm-gate-md;
    True when the gate fails the run."""
    from harness.gate import render_text
    from harness.gate.outputs import append_step_summary, gate_markdown

    settings = session.settings
    if gate is None:
        # The plugin checks both files at start; this catches a file changed mid-run.
        outcome.sections.append(("llm-harness gate", f"gate not run: {error}"))
        return settings.gate == "fail"  # a gate that could not judge must not pass
    comparison = gate.comparison
    outcome.gate_ran = True
    text = render_text(comparison)
    mode = settings.gate
    regressed = comparison.has_regression
    if regressed and mode == "fail":
        text += "\nGATE FAILED: regression against the baseline (exit status 6)"
    elif regressed and mode == "warn":
        text += "\ngate warning: regression against the baseline (--llm-gate=warn)"
    outcome.sections.append(("llm-harness gate", text))
    markdown = gate_markdown(gate, mode)
    store = session.run_store()
    if store is not None:
        md = store.out_dir / "summary.md"
        existing = md.read_text("utf-8") if md.exists() else ""
        md.write_text(existing + "\n\n" + markdown, "utf-8")
        outcome.files["summary.md"] = md
        store.write_json("gate.json", comparison.to_dict())
    if settings.gate_md is not None:
        settings.gate_md.parent.mkdir(parents=True, exist_ok=True)
        settings.gate_md.write_text(markdown, "utf-8")
        outcome.files["gate markdown"] = settings.gate_md
    step = append_step_summary(markdown)
    if step is not None:
        outcome.files["step summary"] = step
    return regressed and mode == "fail"
