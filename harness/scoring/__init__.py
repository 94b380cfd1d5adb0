"""Scorers: pure functions in a name -> function registry (see scoring.base)."""

from harness.scoring import builtin as _builtin  # noqa: F401  (registers the scorers)
from harness.scoring.base import (
    SCORERS,
    ScoreContext,
    run_assertions,
    scorer,
    validate_assertion,
)

__all__ = ["SCORERS", "ScoreContext", "run_assertions", "scorer", "validate_assertion"]
