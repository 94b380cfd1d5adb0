"""Dollar amounts as the harness shows them: the one owner of how many digits a cost keeps.

Three styles, each for one kind of place:

- ``usd`` / ``usd_column``: an amount a person reads (terminal summary, ``llm-harness runs``,
  the estimate, report.html and summary.md, the gate's tables and messages). Costs here are
  often fractions of a cent, so the digits follow the size: cents from $1, four decimals
  from 1 cent, and three significant digits below a cent (never a small cost shown as 0,
  never an exponent). ``usd_column`` is the same figure for a table whose header already
  says "$".
- ``usd_tick``: a chart axis tick, as short as the scale allows.
- ``usd_data``: a cost stored as a number in report.html's data, rounded to 6 significant
  digits (finer than any price table) so 10,000 cells keep the page small.

An unknown cost (unpriced) is never a number here: ``usd(None)`` is "-", and callers that
must say "unpriced" say so themselves.
"""

from __future__ import annotations

import math


def usd_column(x: float | None) -> str:
    """An amount without the "$" sign, for a column headed "cost $": "0", "0.0123",
    "0.0000340", "12.50"; None is "-"."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    size = abs(x)
    if size >= 1:
        return f"{x:,.2f}"
    if size >= 0.01:
        return f"{x:.4f}"
    # Below a cent: three significant digits (0.00500, 0.000150, 0.0000340), so per-call
    # costs that differ in the third digit still read as different.
    return f"{x:.{2 - math.floor(math.log10(size))}f}"


def usd(x: float | None) -> str:
    """An amount a person reads: "$0", "$0.0123", "$0.000150", "$1,234.50"; None is "-"."""
    if x is None:
        return "-"
    text = usd_column(x)
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def usd_tick(x: float, _pos: object = None) -> str:
    """A chart axis tick in dollars with as many digits as the scale needs (a matplotlib
    FuncFormatter): "$0", "$0.005", "$1.5", "$250"."""
    if x == 0:
        return "$0"
    if abs(x) >= 100:
        return f"${x:,.0f}"
    if abs(x) >= 1:
        return f"${x:,.2f}".rstrip("0").rstrip(".")
    digits = max(2, -math.floor(math.log10(abs(x))) + 1)
    return f"${x:.{digits}f}".rstrip("0")


def usd_data(x: float | None) -> float | None:
    """A cost as a number for machine-read page data: 6 significant digits."""
    return None if x is None else float(f"{x:.6g}")
