"""Model-graded scorers: another model (the judge) grades the output.

``llm-rubric`` grades against a rubric; ``factuality`` checks the output agrees with a
reference answer (``value``); ``model-graded-closedqa`` checks it meets a criterion
(``value``), as in promptfoo. The RAG metrics (``context-faithfulness``,
``context-relevance``, ``context-recall``, ``answer-relevance``: ``RAG``) read the case's
``query`` and ``context`` vars and pass on the judge's score reaching ``threshold``
(default 0), not on its pass flag. They differ only in the judge's prompts (``GRADERS``).

::

    {type: llm-rubric, value: "Politely declines and offers a refund",
     provider: "openai:gpt-4o-mini",   # or target: ...; any configured target string
     threshold: 0.7,                   # optional: the judge's score must reach it too
     prompt: "..."}                    # optional Jinja template ({{ rubric }}, {{ output }},
                                       # and the case's vars) replacing the user message

The judge call goes through the session's runner, so it is cached, retried and priced
like any call. The judge must answer with JSON ``{"pass": bool, "score": 0..1, "reason":
str}``; it is parsed with harness.scoring.jsonparse (fenced block unwrapped; the first JSON object
in prose as a fallback), never eval. An unparseable verdict fails with its text in the
reason. The verdict is also requested as structured output (``verdict_format``): a JSON
schema where the provider takes one, which on the local model constrains decoding with a
grammar (its free-text verdicts did not parse).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import HarnessError
from harness.providers import PROVIDERS
from harness.scoring.base import ScoreContext, scorer, split_type
from harness.scoring.common import is_number, need_number, need_text, render_text
from harness.scoring.jsonparse import JSONParseError, find_json, parse_json
from harness.suite import templating
from harness.types import Score

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

FACTUALITY_SYSTEM = (
    "You compare a submitted answer with an expert answer to the same question. Pass it when "
    "the submission is factually consistent with the expert answer (a subset or superset of "
    "it, or the same facts worded differently); fail it when the two disagree on any fact. "
    "Reply with one JSON object and nothing else: "
    '{"pass": true or false, "score": a number from 0 to 1, "reason": "one sentence"}.'
)
FACTUALITY_TEMPLATE = """<expert_answer>
{{ rubric }}
</expert_answer>
<submission>
{{ output }}
</submission>"""

CLOSEDQA_SYSTEM = (
    "You assess whether a submission meets a criterion. Judge only the criterion. Reply with "
    "one JSON object and nothing else: "
    '{"pass": true or false, "score": a number from 0 to 1, "reason": "one sentence"}.'
)
CLOSEDQA_TEMPLATE = """<criterion>
{{ rubric }}
</criterion>
<submission>
{{ output }}
</submission>"""

_SCORE_REPLY = (
    " Reply with one JSON object and nothing else: "
    '{"pass": true or false, "score": the fraction as a number from 0 to 1, '
    '"reason": "one sentence"}.'
)
#: The RAG metrics (promptfoo's context-faithfulness, context-relevance, context-recall,
#: answer-relevance): the judge returns a fraction as the score and the assertion passes
#: when it reaches ``threshold`` (default 0, as in promptfoo). They read the case's vars
#: ``query`` and ``context`` (a string or a list of passages).
RAG: dict[str, tuple[str, str]] = {
    "context-faithfulness": (
        "You check a response against retrieved context. List the factual claims the "
        "response makes; the score is the fraction of them the context supports (1 when it "
        "makes none)." + _SCORE_REPLY,
        "<query>\n{{ query }}\n</query>\n<context>\n{{ context }}\n</context>\n"
        "<response>\n{{ output }}\n</response>",
    ),
    "context-relevance": (
        "You check retrieved context against a query. Split the context into sentences; "
        "the score is the fraction of them that are needed to answer the query."
        + _SCORE_REPLY,
        "<query>\n{{ query }}\n</query>\n<context>\n{{ context }}\n</context>",
    ),
    "context-recall": (
        "You check whether retrieved context supports a known correct answer. Split the "
        "answer into statements; the score is the fraction of them that can be attributed "
        "to the context." + _SCORE_REPLY,
        "<context>\n{{ context }}\n</context>\n<answer>\n{{ rubric }}\n</answer>",
    ),
    "answer-relevance": (
        "You check whether a response answers a query. Think of the questions the response "
        "would answer; the score is how closely they match the query (1: it answers exactly "
        "this query, 0: it answers something else), lowered for content the query did not "
        "ask for." + _SCORE_REPLY,
        "<query>\n{{ query }}\n</query>\n<response>\n{{ output }}\n</response>",
    ),
}
#: The vars each RAG metric reads.
RAG_VARS = {"context-faithfulness": ("query", "context"), "context-relevance": ("query", "context"),
            "context-recall": ("context",), "answer-relevance": ("query",)}

#: type -> (system prompt, default user template); ``rubric`` in a template is the value.
GRADERS: dict[str, tuple[str, str]] = {
    "llm-rubric": (SYSTEM_PROMPT, USER_TEMPLATE),
    "factuality": (FACTUALITY_SYSTEM, FACTUALITY_TEMPLATE),
    "model-graded-closedqa": (CLOSEDQA_SYSTEM, CLOSEDQA_TEMPLATE),
    **RAG,
}
#: Types graded by a judge model: the suite's ``judge:`` fills their ``provider``.
MODEL_GRADED = frozenset(GRADERS)

#: The verdict's shape, requested as structured output (verdict_format).
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pass": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "required": ["pass", "score", "reason"],
    "additionalProperties": False,
}
def verdict_format(provider: str) -> dict[str, Any]:
    """Request fields (``structured``, ``response_schema``) for a judge call."""
    info = PROVIDERS.get(provider)
    if info is not None and info.native_schema:
        return {"structured": "native", "response_schema": VERDICT_SCHEMA}
    return {"structured": "json", "response_schema": None}


def judge_target(spec: Mapping[str, Any]) -> Any:
    return spec.get("provider", spec.get("target"))


def _validate(spec: Mapping[str, Any]) -> str | None:
    name = split_type(str(spec["type"]))[0]
    takes_value = name not in RAG or name == "context-recall"
    problem = (need_text("value", "'answers in French'")(spec) if takes_value else None) or (
        need_number("threshold", required=False)(spec))
    if problem:
        return problem
    threshold = spec.get("threshold")
    if threshold is not None and threshold > 1:
        return f"{name}: 'threshold' is a judge score from 0 to 1, got {threshold!r}"
    target = judge_target(spec)
    if not isinstance(target, str):
        return (
            f"{spec['type']}: needs the judge as 'provider' (or 'target'), a target string such "
            "as provider: openai:gpt-4o-mini, a suite-level judge:, or --llm-judge"
        )
    from harness.suite.targets import TargetProblem, parse_target

    try:
        parse_target(target)
    except TargetProblem as exc:
        return f"{name}: judge {exc}"
    prompt = spec.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, str):
            return f"{name}: 'prompt' must be a template string"
        try:
            templating.check_syntax(prompt)
        except templating.TemplateProblem as exc:
            return f"{name}: 'prompt' {exc}"
    return None


def build_messages(ctx: ScoreContext, spec: Mapping[str, Any]) -> list[dict[str, str]]:
    system, template = GRADERS[split_type(str(spec.get("type", "llm-rubric")))[0]]
    rubric = render_text(spec["value"], ctx) if "value" in spec else ""
    values = {**dict(ctx.vars), "rubric": rubric, "output": ctx.output}
    context = values.get("context")
    if isinstance(context, list):  # passages, one per paragraph
        values["context"] = "\n\n".join(str(c) for c in context)
    user = templating.render(str(spec.get("prompt", template)), values)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


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


def grade(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    """Any model-graded type: one judge call, its verdict parsed. A failing reason names
    what was graded (the rubric, or the metric when the assertion has one)."""
    name = split_type(str(spec["type"]))[0]
    target = str(judge_target(spec))
    if ctx.judge is None:
        return Score(name, False, None, "no judge available in this context")
    missing = [v for v in RAG_VARS.get(name, ()) if v not in ctx.vars]
    if missing:
        return Score(name, False, None, f"reads the case's vars {', '.join(RAG_VARS[name])}; "
                                        f"this case has no {', '.join(missing)}")
    try:
        completion = ctx.judge(target, build_messages(ctx, spec))
    except HarnessError as exc:
        return Score(name, False, None, f"judge call failed: {exc}")
    try:
        verdict = parse_verdict(completion.text)
    except JSONParseError as exc:
        shown = completion.text[:200]
        return Score(name, False, None, f"judge {target}: {exc}; it said {shown!r}")
    score = verdict["score"]
    ok = verdict["pass"]
    reason = f"judge {target}: {verdict['reason']}".rstrip(": ")
    threshold = spec.get("threshold")
    if name in RAG:
        # A RAG metric is its score: the judge's pass flag does not decide it.
        if score is None:
            return Score(name, False, None, f"judge {target}: the verdict has no score")
        ok = score >= (threshold or 0)
        if not ok:
            reason += f" (score {score:g} < threshold {threshold:g})"
    elif threshold is not None and score is not None and score < threshold:
        ok = False
        reason += f" (score {score:g} < threshold {threshold:g})"
    if not ok:
        graded = spec.get("metric") or (render_text(spec["value"], ctx) if "value" in spec
                                        else name)
        shown = graded if len(graded) <= 60 else graded[:57] + "..."
        reason = f"[{shown}] {reason}"
    return Score(name, ok, score if score is not None else ok, reason)


for _name in GRADERS:
    # A grade of an answer that is only a tool call would judge '': refused as text types are
    # (context-relevance grades the context alone, so it takes a tool call as it comes).
    _keys = ("provider", "target", "threshold", "prompt")
    scorer(_name, validate=_validate, text=_name != "context-relevance",
           keys=_keys if _name in RAG and _name != "context-recall" else ("value", *_keys))(grade)
