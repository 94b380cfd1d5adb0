"""End of a run: summary.json, meta.json, report and exports, baseline and gate.

Called once per run (by the plugin's sessionfinish on the controller, or by the library
API). Each step is independent: a failing report never hides the summary or the gate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError
from harness.session import RunSession
from harness.stats import GroupStats, summarize

log = logging.getLogger("harness.finish")

#: Above this p95 event-loop lag the summary says latencies include client-side delay.
LOOP_LAG_WARN_MS = 20.0
#: A single stall this long is reported too, whatever the percentiles say.
LOOP_STALL_WARN_MS = 100.0


@dataclass
class FinishOutcome:
    #: (title, text) blocks for the terminal summary.
    sections: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    gate_failed: bool = False
    #: The baseline comparison ran (so, under --llm-gate=fail, it decides the cells' verdict).
    gate_ran: bool = False
    groups: list[GroupStats] = field(default_factory=list)


def _fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def _fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:,.0f}"


def fmt_usd(usd: float | None) -> str:
    """Dollars with enough digits that a small run's cost is not shown as 0."""
    if usd is None:
        return "-"
    if usd == 0:
        return "0"
    if usd >= 1:
        return f"{usd:,.2f}"
    return f"{usd:.2g}" if usd < 0.0001 else f"{usd:.4f}"


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
    """The terminal table: one row per (suite, target, temperature).

    ``cost $`` is what this run spent (replays cost 0); ``if live $`` what the same answers
    cost when they were live, so a cached rerun still shows the price of the choice.
    """
    rows = [SUMMARY_COLUMNS]
    # Targets that did not run at all (no key, unsupported) get one line below, not a row of
    # dashes per suite and temperature.
    shown: list[GroupStats] = []
    not_run: list[GroupStats] = []
    for g in groups:
        (not_run if g.cells and g.skipped == g.cells else shown).append(g)
    for g in shown:
        temp = "default" if g.temperature is None else f"{g.temperature:g}"
        ran = g.cells - g.skipped
        rows.append(
            (
                g.suite,
                g.target,
                temp,
                str(g.cells),
                _fmt_rate(g.pass_rate),
                _fmt_rate(g.schema_valid_rate),
                _fmt_ms(g.latency_p50_ms),
                _fmt_ms(g.latency_p95_ms),
                "unpriced" if g.unpriced else fmt_usd(g.cost_usd),
                "unpriced" if g.unpriced else ("-" if not ran else fmt_usd(g.cost_if_live_usd)),
                str(g.cached),
                str(g.errors),
                str(g.skipped),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(SUMMARY_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if not_run:
        cells: dict[str, int] = {}
        for g in not_run:
            cells[g.target] = cells.get(g.target, 0) + g.cells
        listed = ", ".join(f"{target} ({n})" for target, n in cells.items())
        lines.append(f"not run, every cell skipped (reasons above): {listed}")
    return "\n".join(lines)


def finish_run(session: RunSession) -> FinishOutcome:
    outcome = FinishOutcome()
    # Every record is on disk already: RunSession.record writes each as it is reported.
    results = session.results
    settings = session.settings
    if not results:
        return outcome
    groups = summarize(results)
    outcome.groups = groups
    replayed = sum(r.cached for r in results)
    live = sum(1 for r in results if not r.cached and r.status in ("passed", "failed"))
    spent = sum(r.cost_usd or 0.0 for r in results)
    text = summary_text(groups)
    text += (
        f"\n{len(results)} cells: {live} answered live (${fmt_usd(spent)}), {replayed} replayed "
        f"from cache (cost 0 this run), {sum(r.status == 'error' for r in results)} errors, "
        f"{sum(r.status == 'skipped' for r in results)} skipped"
    )
    lag = session.runner_loop_lag()
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
    outcome.sections.append(("llm-harness summary", text))

    meta = session.meta()
    store = session.run_store()
    if store is not None:
        outcome.files["summary.json"] = store.write_json(
            "summary.json", [g.to_dict() for g in groups]
        )
        outcome.files["meta.json"] = store.write_json("meta.json", meta)
        if settings.report:
            try:
                from harness.report import write_reports

                outcome.files.update(write_reports(store.out_dir, results, meta, groups))
            except Exception as exc:  # the report must never cost the user their results
                log.exception("report failed")
                outcome.sections.append(("llm-harness report", f"report not written: {exc}"))
        where = "\n".join(f"  {name}: {path}" for name, path in outcome.files.items())
        outcome.sections.append(("llm-harness files", f"run {session.run_id}\n{where}"))

    # Compare before saving: with the same path for both, the run is judged against the old
    # baseline, never against itself.
    if settings.baseline is not None:
        outcome.gate_failed = _compare(session, outcome)
    if settings.save_baseline is not None:
        from harness.gate import save_baseline

        save_baseline(results, settings.save_baseline, meta)
        outcome.sections.append(
            ("llm-harness baseline", f"baseline written to {settings.save_baseline}")
        )
    return outcome


def _compare(session: RunSession, outcome: FinishOutcome) -> bool:
    from harness.gate import (
        compare,
        load_baseline,
        load_gate_settings,
        render_markdown,
        render_text,
    )

    settings = session.settings
    assert settings.baseline is not None
    try:
        baseline = load_baseline(settings.baseline)
        comparison = compare(baseline, session.results, load_gate_settings(settings.rootdir))
    except ConfigError as exc:
        # The plugin checks both files at start; this catches a file changed mid-run.
        outcome.sections.append(("llm-harness gate", f"gate not run: {exc}"))
        return settings.gate == "fail"  # a gate that could not judge must not pass
    outcome.gate_ran = True
    text = render_text(comparison)
    mode = settings.gate
    regressed = comparison.has_regression
    if regressed and mode == "fail":
        text += "\nGATE FAILED: regression against the baseline (exit status 6)"
    elif regressed and mode == "warn":
        text += "\ngate warning: regression against the baseline (--llm-gate=warn)"
    outcome.sections.append(("llm-harness gate", text))
    store = session.run_store()
    if store is not None:
        md = store.out_dir / "summary.md"
        existing = md.read_text("utf-8") if md.exists() else ""
        md.write_text(existing + "\n\n" + render_markdown(comparison), "utf-8")
        outcome.files["summary.md"] = md
        store.write_json("gate.json", comparison.to_dict())
    return regressed and mode == "fail"
