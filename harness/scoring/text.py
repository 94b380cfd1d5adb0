"""Text scorers: equals, contains (and -all/-any, case-insensitive i- forms), regex,
starts-with, levenshtein, finish-reason.

String values may use the case's vars (``value: "{{ expected }}"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import regex as regex_lib

from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import (
    check_all,
    need_number,
    need_str,
    need_str_list,
    need_text,
    render,
    render_text,
)
from harness.scoring.jsonparse import JSONParseError, parse_json
from harness.types import Score

_SHOW = 80


def _show(text: str) -> str:
    return repr(text if len(text) <= _SHOW else text[:_SHOW] + "...")


def _need_value(spec: Mapping[str, Any]) -> str | None:
    return None if "value" in spec else f"{spec['type']}: needs 'value'"


@scorer("equals", validate=_need_value, keys=("value",), text=True)
def equals(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """A string value matches the output with surrounding whitespace stripped; a mapping,
    list or number is compared with the output parsed as JSON."""
    expected = render(spec["value"], ctx)
    if isinstance(expected, str):
        ok = ctx.output.strip() == expected.strip()
        reason = "" if ok else f"expected {_show(expected)}, got {_show(ctx.output.strip())}"
        return Score("equals", ok, ok, reason)
    try:
        got = parse_json(ctx.output)
    except JSONParseError as exc:
        return Score("equals", False, False, f"expected JSON {expected!r}; {exc}")
    ok = got == expected
    return Score("equals", ok, ok, "" if ok else f"expected {expected!r}, got {got!r}")


def _contains(name: str, fold: bool, mode: str) -> None:
    validate = need_text("value") if mode == "one" else need_str_list("value")

    def score(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
        raw = spec["value"]
        needles = [render_text(x, ctx) for x in (raw if isinstance(raw, list) else [raw])]
        hay = ctx.output.casefold() if fold else ctx.output
        found = [n for n in needles if (n.casefold() if fold else n) in hay]
        missing = [n for n in needles if n not in found]
        ok = bool(found) if mode == "any" else not missing
        case = " (ignoring case)" if fold else ""
        if ok:
            return Score(name, True, found if mode != "one" else True, "")
        if mode == "any":
            reason = f"output contains none of {needles!r}{case}"
        elif mode == "all":
            reason = f"output is missing {missing!r}{case}"
        else:
            reason = f"output does not contain {needles[0]!r}{case}"
        return Score(name, False, found if mode != "one" else False, reason)

    score.__name__ = name.replace("-", "_")
    scorer(name, validate=validate, keys=("value",), text=True)(score)


for _fold, _prefix in ((False, "contains"), (True, "icontains")):
    _contains(_prefix, _fold, "one")
    _contains(f"{_prefix}-all", _fold, "all")
    _contains(f"{_prefix}-any", _fold, "any")

# The `regex` package, not `re`: its searches take a timeout, so a catastrophic pattern
# (a suite is data a pull request can edit) fails its cell instead of hanging the run.
_FLAGS = {"i": regex_lib.IGNORECASE, "m": regex_lib.MULTILINE, "s": regex_lib.DOTALL,
          "x": regex_lib.VERBOSE}


def _regex_flags(spec: Mapping[str, Any]) -> int:
    flags = 0
    for ch in str(spec.get("flags", "")):
        flags |= _FLAGS[ch]
    return flags


def _validate_regex(spec: Mapping[str, Any]) -> str | None:
    problem = need_str("value", r"'\d{3}-\d{4}'")(spec)
    if problem:
        return problem
    flags = spec.get("flags", "")
    if not isinstance(flags, str) or set(flags) - set(_FLAGS):
        return f"regex: 'flags' must be letters from 'imsx', got {flags!r}"
    if "{{" in spec["value"] or "{%" in spec["value"]:
        return None  # compiled after vars are filled in
    try:
        regex_lib.compile(spec["value"], _regex_flags(spec))
    except regex_lib.error as exc:
        return f"regex: invalid pattern {spec['value']!r}: {exc}"
    return None


@scorer("regex", validate=_validate_regex, keys=("value", "flags"), text=True)
def regex(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """``re.search`` anywhere in the output; ``flags`` from ``imsx``; value is the match."""
    from harness.suite.limits import SCORER_S

    pattern = render(spec["value"], ctx)
    try:
        m = regex_lib.search(pattern, ctx.output, _regex_flags(spec), timeout=SCORER_S.value())
    except TimeoutError:
        return Score("regex", False, None,
                     f"/{pattern}/ took over {SCORER_S.value():g} s on this output (a pattern "
                     f"with nested repeats?); simplify it or raise {SCORER_S.env}")
    if m is None:
        return Score("regex", False, None, f"no match for /{pattern}/ in {_show(ctx.output)}")
    return Score("regex", True, m.group(0), "")


@scorer("starts-with", validate=need_text("value"), keys=("value",), text=True)
def starts_with(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """Leading whitespace of the output is ignored (models often emit a newline first)."""
    prefix = render_text(spec["value"], ctx)
    ok = ctx.output.lstrip().startswith(prefix)
    reason = "" if ok else f"output starts with {_show(ctx.output.lstrip()[:len(prefix) + 20])}"
    return Score("starts-with", ok, ok, reason)


def levenshtein_distance(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute cost 1), two-row dynamic programming."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            )
        previous = current
    return previous[-1]


DEFAULT_MAX_DISTANCE = 5


@scorer(
    "levenshtein",
    validate=check_all(need_text("value"), need_number("threshold", required=False)),
    keys=("value", "threshold"),
    text=True,
)
def levenshtein(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """Edit distance between the stripped output and the value; ``threshold`` is the
    largest distance that passes (default 5). The value is the distance."""
    expected = render_text(spec["value"], ctx).strip()
    limit = spec.get("threshold", DEFAULT_MAX_DISTANCE)
    dist = levenshtein_distance(ctx.output.strip(), expected)
    ok = dist <= limit
    return Score("levenshtein", ok, dist, f"edit distance {dist} vs max {limit}")


NORMALISED_FINISH = ("stop", "length", "tool_calls", "content_filter", "error", "other")


def _validate_finish(spec: Mapping[str, Any]) -> str | None:
    v = spec.get("value")
    values = v if isinstance(v, list) else [v]
    if not values or not all(isinstance(x, str) and x for x in values):
        return (
            "finish-reason: needs 'value', a finish reason or a list of them: "
            f"{', '.join(NORMALISED_FINISH)} (or the provider's own word, e.g. end_turn)"
        )
    return None


@scorer("finish-reason", validate=_validate_finish, keys=("value",))
def finish_reason(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """Matches the normalised finish reason, or the provider's raw one (``end_turn``)."""
    v = spec["value"]
    wanted = v if isinstance(v, list) else [v]
    c = ctx.completion
    if c is None:
        return Score("finish-reason", False, None, "no completion to check")
    ok = c.finish_reason in wanted or (c.raw_finish_reason is not None
                                       and c.raw_finish_reason in wanted)
    raw = f" (provider: {c.raw_finish_reason})" if c.raw_finish_reason else ""
    reason = f"finish reason {c.finish_reason}{raw}" + ("" if ok else f", expected {wanted}")
    return Score("finish-reason", ok, c.finish_reason, reason)
