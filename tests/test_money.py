"""harness.money: the one rule for dollar amounts (terminal, report, estimate, gate)."""

from __future__ import annotations

import pytest

from harness.money import usd, usd_column, usd_data, usd_tick


@pytest.mark.parametrize(
    ("amount", "column", "text"),
    [
        (0.0, "0", "$0"),
        (None, "-", "-"),
        # below a cent: three significant digits, never 0 and never an exponent
        (0.000034, "0.0000340", "$0.0000340"),
        (0.00015, "0.000150", "$0.000150"),
        (0.005, "0.00500", "$0.00500"),
        # from a cent: four decimals; from a dollar: cents with thousands separators
        (0.0123, "0.0123", "$0.0123"),
        (0.5, "0.5000", "$0.5000"),
        (2.0, "2.00", "$2.00"),
        (12.5, "12.50", "$12.50"),
        (1234.5, "1,234.50", "$1,234.50"),
        (-0.25, "-0.2500", "-$0.2500"),
    ],
)
def test_amounts(amount: float | None, column: str, text: str) -> None:
    assert usd_column(amount) == column
    assert usd(amount) == text


def test_small_costs_that_differ_read_differently() -> None:
    # per-call costs of a gate comparison differ in the third significant digit
    assert usd(0.000150) != usd(0.000162)


def test_dollar_ticks() -> None:
    assert [usd_tick(x) for x in (0, 0.005, 0.02, 0.25, 1.5, 250)] == [
        "$0",
        "$0.005",
        "$0.02",
        "$0.25",
        "$1.5",
        "$250",
    ]


def test_page_data_keeps_six_significant_digits() -> None:
    assert usd_data(0.000123456789) == 0.000123457
    assert usd_data(None) is None
