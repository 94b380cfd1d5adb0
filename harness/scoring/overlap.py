"""Reference-overlap scorers: rouge-n and bleu, with promptfoo's definitions.

::

    {type: rouge-n, value: "the reference summary", threshold: 0.75, n: 1}
    {type: bleu, value: ["a reference", "another reference"], threshold: 0.5}

``rouge-n`` is ROUGE-N recall: the share of the reference's n-grams (``n``, default 1)
that the output has, each counted at most as often as the output has it. Words are runs of
letters and digits, case-folded. With a list of references the best one counts. It passes
at ``threshold`` (default 0.75).

``bleu`` is sentence BLEU-4 as promptfoo computes it: text lower-cased and split on
whitespace; clipped n-gram precisions for n = 1..4 (each n-gram counted at most as often
as the reference that has it most), combined as ``exp(sum(0.25 * log(p_n + 1e-10)))`` (the
epsilon stands in for smoothing: one missing order makes the score tiny, not an error) and
multiplied by the brevity penalty ``exp(1 - r/c)`` when the output (``c`` words) is shorter
than the reference closest in length (``r``). It passes at ``threshold`` (default 0.5).

No library: the packages that compute these (rouge-score, sacrebleu) pull in NLTK or
tokenizers a suite does not need, and the definitions are a few lines each.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from harness.scoring.base import ScoreContext, scorer
from harness.scoring.common import is_number, render
from harness.types import Score

ROUGE_THRESHOLD = 0.75
BLEU_THRESHOLD = 0.5
BLEU_WEIGHTS = (0.25, 0.25, 0.25, 0.25)
_WORD = re.compile(r"\w+")


def ngrams(words: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def rouge_n(candidate: str, reference: str, n: int = 1) -> float:
    """ROUGE-N recall of ``candidate`` against one reference (0 when it has no n-gram)."""
    ref = ngrams(_WORD.findall(reference.casefold()), n)
    if not ref:
        return 0.0
    cand = ngrams(_WORD.findall(candidate.casefold()), n)
    overlap = sum(min(count, cand[gram]) for gram, count in ref.items())
    return overlap / sum(ref.values())


def bleu(candidate: str, references: Sequence[str],
         weights: Sequence[float] = BLEU_WEIGHTS) -> float:
    """Sentence BLEU of ``candidate`` against ``references`` (see the module docstring)."""
    words = candidate.lower().split()
    refs = [r.lower().split() for r in references]
    if not words or not refs:
        return 0.0
    # The reference closest in length (the shorter on a tie) sets the brevity penalty.
    closest = min((abs(len(r) - len(words)), len(r)) for r in refs)[1]
    log_sum = 0.0
    for order, weight in enumerate(weights, start=1):
        counts = ngrams(words, order)
        most: Counter[tuple[str, ...]] = Counter()
        for r in refs:
            most |= ngrams(r, order)  # | keeps the largest count of each n-gram
        total = sum(counts.values())
        clipped = sum(min(c, most[g]) for g, c in counts.items())
        precision = clipped / total if total else 0.0
        log_sum += weight * math.log(precision + 1e-10)
    penalty = 1.0 if len(words) >= closest else math.exp(1 - closest / len(words))
    return penalty * math.exp(log_sum)


def _references(spec: Mapping[str, Any], ctx: ScoreContext) -> list[str]:
    raw = render(spec["value"], ctx)
    return [str(r) for r in (raw if isinstance(raw, list) else [raw])]


def _validate(default: float, with_n: bool) -> Any:
    def validate(spec: Mapping[str, Any]) -> str | None:
        name = spec["type"]
        v = spec.get("value")
        refs = v if isinstance(v, list) else [v]
        if not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            return (f"{name}: needs 'value', the reference text (or a list of them), e.g. "
                    "value: The cat sat on the mat.")
        t = spec.get("threshold", default)
        if not is_number(t) or not 0 <= t <= 1:
            return f"{name}: 'threshold' is a score from 0 to 1, got {t!r}"
        n = spec.get("n", 1)
        if with_n and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 4):
            return f"{name}: 'n' is the n-gram length, 1 to 4, got {n!r}"
        return None

    return validate


@scorer("rouge-n", validate=_validate(ROUGE_THRESHOLD, True), keys=("value", "threshold", "n"),
        text=True)
def rouge_scorer(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    n = int(spec.get("n", 1))
    score = max(rouge_n(ctx.output, ref, n) for ref in _references(spec, ctx))
    threshold = float(spec.get("threshold", ROUGE_THRESHOLD))
    ok = score >= threshold
    return Score("rouge-n", ok, round(score, 4), f"ROUGE-{n} {score:.3f} vs {threshold:g}")


@scorer("bleu", validate=_validate(BLEU_THRESHOLD, False), keys=("value", "threshold"),
        text=True)
def bleu_scorer(ctx: ScoreContext, spec: Mapping[str, Any]) -> Score:
    score = bleu(ctx.output, _references(spec, ctx))
    threshold = float(spec.get("threshold", BLEU_THRESHOLD))
    ok = score >= threshold
    return Score("bleu", ok, round(score, 4), f"BLEU {score:.3f} vs {threshold:g}")
