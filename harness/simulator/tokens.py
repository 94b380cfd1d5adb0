"""The simulator's tokenizer: words and single punctuation marks are tokens.

It only has to be consistent (the same text always counts the same, and the streamed pieces
join back to the text), not to match any provider's BPE.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count(text: str) -> int:
    """Number of tokens in ``text``."""
    return sum(1 for _ in _TOKEN.finditer(text))


def pieces(text: str) -> list[str]:
    """Split ``text`` into one piece per token, each carrying the whitespace before it, so
    ``"".join(pieces(t)) == t``. Trailing whitespace joins the last piece."""
    ends = [m.end() for m in _TOKEN.finditer(text)]
    if not ends:
        return [text] if text else []
    bounds = [0, *ends[:-1], len(text)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(len(ends))]


def truncate(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """``text`` cut to at most ``max_tokens`` tokens, and whether it was cut."""
    if max_tokens is None:
        return text, False
    parts = pieces(text)
    if len(parts) <= max_tokens:
        return text, False
    return "".join(parts[: max(max_tokens, 0)]), True
