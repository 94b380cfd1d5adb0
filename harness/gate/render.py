"""Text and Markdown renderings of a Comparison: the verdict table with its evidence.

Both show the same rows: one per group and metric, with the values before and after, the
change and its 95% interval, the counts behind it (paired cases, discordant pairs b/c or cases
worse/better, cells left out for a harness stall, the token and price factors of a cost
change), the p-value (Holm-adjusted when the correction is on) and the verdict. Per group
follow what the pass-rate test could detect at all, then the case lists: prompt changed (with
the first changed lines), not comparable (test changed), flaky, added and removed cases.
"""

from __future__ import annotations

import math

from harness.gate.compare import Comparison, GroupComparison, MetricResult, Verdict
from harness.money import usd
from harness.types import DEFAULT_PROMPT_ID

#: Exit status of a session or `llm-harness compare --fail` when the gate finds a regression;
#: distinct from pytest's own statuses 0-5.
GATE_EXIT_CODE = 6

MAX_LISTED = 12

LABELS = {
    "pass_rate": "pass rate",
    "schema_valid_rate": "schema valid",
    "latency": "latency",
    "cost_per_call": "cost/call",
    "pass_rate_floor": "pass floor",
}


def _temp(t: float | None) -> str:
    return "default" if t is None else f"{t:g}"


def _suite(g: GroupComparison) -> str:
    """The suite, with the prompt variant when it is not the implicit ``default``."""
    return g.suite if g.prompt == DEFAULT_PROMPT_ID else f"{g.suite} [{g.prompt}]"


def _where(g: GroupComparison) -> str:
    return f"{_suite(g)} / {g.target} / t={_temp(g.temperature)}"


def _prompt_changed(g: GroupComparison) -> str:
    return " (prompt changed)" if g.prompt == DEFAULT_PROMPT_ID else f" (prompt {g.prompt} changed)"


def _value(m: MetricResult, v: float | None) -> str:
    if v is None:
        return "-"
    if m.metric in ("pass_rate", "schema_valid_rate", "pass_rate_floor"):
        return f"{v * 100:.1f}%"
    if m.metric == "latency":
        return f"{v:,.0f} ms"
    return usd(v)


def _change(m: MetricResult) -> str:
    if m.change is None:
        return "-"
    if m.metric in ("pass_rate", "schema_valid_rate"):
        text = f"{m.change * 100:+.1f} pts"
        if m.interval is not None:
            lo, hi = m.interval
            text += f" [{lo * 100:+.1f}, {hi * 100:+.1f}]"
        return text
    if math.isinf(m.change):
        return "x inf"
    text = f"x{m.change:.2f}"
    if m.metric == "latency" and m.interval is not None:
        text += f" [{m.interval[0]:.2f}, {m.interval[1]:.2f}]"
    return text


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.3g}" if p >= 0.001 else f"{p:.1e}"


def _evidence(m: MetricResult) -> str:
    if m.metric in ("pass_rate", "schema_valid_rate"):
        if m.b is not None:
            text = f"n={m.cases} b={m.b} c={m.c}"
        else:
            text = f"k={m.cases} cases ({m.samples_before}/{m.samples_after} samples)"
            # No case-level comparison (no paired cases): nothing to count, not "None".
            if m.worse is not None and m.better is not None:
                text += f" worse={m.worse} better={m.better}"
        if m.test:
            text += f" {m.test}"
        return text
    tol = "" if m.threshold is None else f" tol x{m.threshold:g}"
    if m.metric == "latency":
        text = f"k={m.cases} cases ({m.samples_before}/{m.samples_after} calls)"
        # No paired calls: nothing to count, not "None".
        if m.worse is not None and m.better is not None:
            text += f" slower={m.worse} faster={m.better}"
        if m.stalled_before or m.stalled_after:
            text += f" stalled left out={m.stalled_before}/{m.stalled_after}"
        return f"{text}{tol} {m.test}".rstrip()
    if m.metric == "cost_per_call":
        text = f"k={m.cases} cases ({m.samples_before}/{m.samples_after} calls)"
        if m.tokens_ratio is not None and m.price_ratio is not None:
            text += f" = tokens x{m.tokens_ratio:.2f}"
            if m.interval is not None:
                text += f" [{m.interval[0]:.2f}, {m.interval[1]:.2f}]"
            text += f" x price/token x{m.price_ratio:.2f} (deterministic)"
        return f"{text}{tol} {m.test}".rstrip()
    if m.metric == "pass_rate_floor":
        return f"n={m.samples_after} floor {(m.threshold or 0) * 100:g}%"
    return ""


def _verdict(m: MetricResult) -> str:
    text = m.verdict.value
    if m.verdict is Verdict.REGRESSION:
        text = "REGRESSION"
    return text


def _rows(comparison: Comparison) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for g in comparison.groups:
        for m in g.metrics:
            p = m.p_adjusted if m.p_adjusted is not None else m.p_value
            rows.append(
                (
                    _suite(g),
                    g.target,
                    _temp(g.temperature),
                    LABELS.get(m.metric, m.metric),
                    _value(m, m.before),
                    _value(m, m.after),
                    _change(m),
                    _evidence(m),
                    _p(p),
                    _verdict(m),
                )
            )
    return rows


HEADER = (
    "suite",
    "target",
    "temp",
    "metric",
    "before",
    "after",
    "change [95% CI]",
    "evidence",
    "p",
    "verdict",
)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        shown += f", ... ({len(names) - MAX_LISTED} more)"
    return shown


def _notes(g: GroupComparison) -> list[str]:
    notes: list[str] = []
    if g.status == "missing":
        return notes  # listed together by _missing: a partial run can miss many groups
    if g.status == "new":
        notes.append(f"new in this run ({len(g.added_cases)} cases): no baseline to compare")
    else:
        if g.prompt_changed:
            notes.append(
                f"prompt changed ({len(g.prompt_changed_cases)} of {g.paired_cases} paired "
                "cases), compared with the baseline's answers"
                + (":" if g.prompt_diff else "")
            )
            notes += [f"    {line}" for line in g.prompt_diff]
        if g.not_comparable_cases:
            notes.append(
                f"not comparable, {g.not_comparable_reason} ({len(g.not_comparable_cases)}): "
                + _listing(g.not_comparable_cases)
            )
        if g.added_cases:
            notes.append(f"added cases ({len(g.added_cases)}): " + _listing(g.added_cases))
        if g.removed_cases:
            notes.append(f"removed cases ({len(g.removed_cases)}): " + _listing(g.removed_cases))
        flaky = set(g.flaky)
        worse = [c + (" (flaky)" if c in flaky else "") for c in g.worse_cases]
        if worse:
            notes.append(f"cases passing less often ({len(worse)}): " + _listing(worse))
        if g.flaky_before:
            notes.append(
                f"flaky in the baseline ({len(g.flaky_before)}): " + _listing(g.flaky_before)
            )
        if g.flaky_after:
            notes.append(f"flaky in this run ({len(g.flaky_after)}): " + _listing(g.flaky_after))
    for m in g.metrics:
        if m.verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT, Verdict.NOT_COMPARABLE):
            notes.append(f"{LABELS.get(m.metric, m.metric)}: {m.verdict.value}: {m.reason}")
        elif m.metric == "latency" and (m.stalled_before or m.stalled_after):
            notes.append(f"latency: {m.reason}")
    power = _power(g)
    if power:
        notes.append(power)
    return notes


def _power(g: GroupComparison) -> str | None:
    """What the pass-rate test of a group could flag at all (its n and alpha)."""
    m = g.metric("pass_rate")
    if m is None or not m.cases or m.detectable_cases is None:
        return None
    if m.detectable is None:
        return (
            f"pass rate: cannot detect any change with {m.cases} cases "
            f"(a verdict needs at least {m.detectable_cases} cases to change the same way)"
        )
    return (
        f"pass rate: the smallest change it could flag is {m.detectable * 100:.1f} pts "
        f"({m.detectable_cases} of {m.cases} cases changing the same way, "
        "every other case unchanged)"
    )


def _missing(comparison: Comparison) -> str | None:
    missing = [
        _where(g)
        for g in comparison.groups
        if g.status == "missing"
    ]
    if not missing:
        return None
    return (
        f"in the baseline but not run (or all skipped) here, not compared ({len(missing)}): "
        + _listing(missing)
    )


def _tests(comparison: Comparison) -> int:
    return sum(1 for g in comparison.groups for m in g.metrics if m.p_value is not None)


def _settings_line(comparison: Comparison) -> str:
    s = comparison.settings
    adjust = "Holm-adjusted p" if s.correction == "holm" else "no correction"
    text = (
        f"alpha {s.alpha:g} ({adjust} over {_tests(comparison)} tests), "
        f"min effect {s.min_effect * 100:g} pts, "
        f"latency x{s.latency_tolerance:g} (+{s.latency_slack_ms:g} ms slack), "
        f"cost x{s.cost_tolerance:g}, min cases {s.min_cases}"
    )
    if s.min_pass_rate is not None or s.suite_min_pass_rate:
        floors = [] if s.min_pass_rate is None else [f"{s.min_pass_rate * 100:g}%"]
        floors += [f"{k} {v * 100:g}%" for k, v in sorted(s.suite_min_pass_rate.items())]
        text += ", floors " + ", ".join(floors)
    if s.source:
        text += f" (from {s.source})"
    return text


def _headline(comparison: Comparison) -> str:
    regressions = comparison.regressions
    if regressions:
        where = "; ".join(
            f"{_suite(g)} {g.target} t={_temp(g.temperature)} {LABELS.get(m.metric, m.metric)}"
            + (_prompt_changed(g) if g.prompt_changed else "")
            for g, m in regressions
        )
        return f"REGRESSION ({len(regressions)}): {where}"
    improvements = len(comparison.improvements)
    text = "no regression"
    if improvements:
        text += f", {improvements} improvement(s)"
    changed = sorted({g.prompt for g in comparison.groups if g.prompt_changed})
    if changed:
        text += f", prompt changed ({', '.join(changed)})"
        if not improvements:
            text += ": no significant change"
    if comparison.not_comparable_cases:
        reasons = {g.not_comparable_reason for g in comparison.groups if g.not_comparable_cases}
        why = "test changed" if reasons == {"test changed"} else "see the reasons above"
        text += f", {comparison.not_comparable_cases} case(s) not comparable ({why})"
    return text


def render_text(comparison: Comparison) -> str:
    lines = [
        f"baseline: {comparison.baseline}",
        f"current:  {comparison.current}",
        f"settings: {_settings_line(comparison)}",
        "",
    ]
    rows = [HEADER, *_rows(comparison)]
    # A group's suite / target / temperature are shown on its first row only.
    for i in range(len(rows) - 1, 1, -1):
        if rows[i][:3] == rows[i - 1][:3]:
            rows[i] = ("", "", "", *rows[i][3:])
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
        table = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        table.insert(1, "  ".join("-" * w for w in widths))
        lines += table
    for g in comparison.groups:
        notes = _notes(g)
        if notes:
            lines.append(f"\n{_where(g)}:")
            lines += [f"  {n}" for n in notes]
    missing = _missing(comparison)
    if missing:
        lines.append("\n" + missing)
    lines.append("")
    lines.append("gate: " + _headline(comparison))
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(comparison: Comparison) -> str:
    verdict = "❌ regression" if comparison.has_regression else "✅ no regression"
    lines = [
        f"## llm-harness gate: {verdict}",
        "",
        f"- baseline: `{comparison.baseline}`",
        f"- current: `{comparison.current}`",
        f"- settings: {_settings_line(comparison)}",
        f"- result: {_md(_headline(comparison))}",
        "",
    ]
    rows = _rows(comparison)
    if rows:
        lines.append("| " + " | ".join(HEADER) + " |")
        lines.append("|" + "---|" * len(HEADER))
        for r in rows:
            cells = list(r)
            if cells[-1] == "REGRESSION":
                cells[-1] = "**REGRESSION**"
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    details = [(g, _notes(g)) for g in comparison.groups]
    details = [(g, n) for g, n in details if n]
    missing = _missing(comparison)
    if details or missing:
        lines += ["", "<details><summary>cases and reasons</summary>", ""]
        for g, notes in details:
            lines.append(f"**{_md(_where(g))}**")
            lines.append("")
            lines += [f"- {_md(n)}" for n in notes]
            lines.append("")
        if missing:
            lines += [_md(missing), ""]
        lines.append("</details>")
    return "\n".join(lines) + "\n"
