"""llm-rubric scorer: another model grades the output against a rubric.

::

    {type: llm-rubric, value: "Politely declines and offers a refund",
     provider: "openai:gpt-4o-mini",   # or target: ...; any configured target string
     threshold: 0.7,                   # optional: the judge's score must reach it too
     prompt: "..."}                    # optional Jinja template ({{ rubric }}, {{ output }},
                                       # and the case's vars) replacing the user message

The judge call goes through the session's runner, so it is cached, retried and priced
like any call. The judge must answer with JSON ``{"pass": bool, "score": 0..1, "reason":
str}``; it is parsed with harness.jsonparse (fenced block unwrapped; the first JSON object
in prose as a fallback), never eval. An unparseable verdict fails with its text in the
reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness import templating
from harness.errors import HarnessError
from harness.jsonparse import JSONParseError, find_json, parse_json
from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import is_number, need_number, need_str, render
from harness.types import Score

#: Types graded by a judge model: the suite's ``judge:`` fills their ``provider``.
MODEL_GRADED = {"llm-rubric"}

#: The judge's answer limit (session.judge sends this max_tokens; the estimate uses it).
JUDGE_MAX_TOKENS = 512

SYSTEM_PROMPT = (
    "You grade the output of an AI system against a rubric. Judge only whether the output "
    "meets the rubric. Reply with one JSON object and nothing else: "
    '{"pass": true or false, "score": a number from 0 to 1, "reason": "one sentence"}.'
)

USER_TEMPLATE = """<rubric>
{{ rubric }}
</rubric>
<output>
{{ output }}
</output>"""


def judge_target(spec: Mapping[str, Any]) -> Any:
    return spec.get("provider", spec.get("target"))


def _validate(spec: Mapping[str, Any]) -> str | None:
    problem = need_str("value", "'answers in French'")(spec) or need_number(
        "threshold", required=False
    )(spec)
    if problem:
        return problem
    threshold = spec.get("threshold")
    if threshold is not None and threshold > 1:
        return f"llm-rubric: 'threshold' is a judge score from 0 to 1, got {threshold!r}"
    target = judge_target(spec)
    if not isinstance(target, str):
        return (
            f"{spec['type']}: needs the judge as 'provider' (or 'target'), a target string such "
            "as provider: openai:gpt-4o-mini, or a suite-level judge:"
        )
    from harness.targets import TargetProblem, parse_target

    try:
        parse_target(target)
    except TargetProblem as exc:
        return f"llm-rubric: judge {exc}"
    prompt = spec.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, str):
            return "llm-rubric: 'prompt' must be a template string"
        try:
            templating.check_syntax(prompt)
        except templating.TemplateProblem as exc:
            return f"llm-rubric: 'prompt' {exc}"
    return None


def build_messages(ctx: ScoreContext, spec: Mapping[str, Any]) -> list[dict[str, str]]:
    rubric = render(spec["value"], ctx)
    values = {**dict(ctx.vars), "rubric": rubric, "output": ctx.output}
    user = templating.render(str(spec.get("prompt", USER_TEMPLATE)), values)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> dict[str, Any]:
    """The judge's verdict; raises JSONParseError when it is not a JSON object with a
    boolean ``pass`` (or ``passed``)."""
    try:
        verdict = parse_json(text)
    except JSONParseError:
        verdict = find_json(text)
    if not isinstance(verdict, dict):
        raise JSONParseError(f"verdict is not a JSON object: {verdict!r}")
    passed = verdict.get("pass", verdict.get("passed"))
    if not isinstance(passed, bool):
        raise JSONParseError(f"verdict has no boolean 'pass': {verdict!r}")
    score = verdict.get("score")
    if score is not None and not (is_number(score) and 0 <= score <= 1):
        raise JSONParseError(f"verdict 'score' must be a number from 0 to 1, got {score!r}")
    return {"pass": passed, "score": score, "reason": str(verdict.get("reason", ""))}


@scorer(
    "llm-rubric", validate=_validate, keys=("value", "provider", "target", "threshold", "prompt")
)
def llm_rubric(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    target = str(judge_target(spec))
    if ctx.judge is None:
        return Score("llm-rubric", False, None, "no judge available in this context")
    try:
        completion = ctx.judge(target, build_messages(ctx, spec))
    except HarnessError as exc:
        return Score("llm-rubric", False, None, f"judge call failed: {exc}")
    try:
        verdict = parse_verdict(completion.text)
    except JSONParseError as exc:
        shown = completion.text[:200]
        return Score("llm-rubric", False, None, f"judge {target}: {exc}; it said {shown!r}")
    score = verdict["score"]
    ok = verdict["pass"]
    reason = f"judge {target}: {verdict['reason']}".rstrip(": ")
    threshold = spec.get("threshold")
    if threshold is not None and score is not None and score < threshold:
        ok = False
        reason += f" (score {score:g} < threshold {threshold:g})"
    return Score("llm-rubric", ok, score if score is not None else ok, reason)
