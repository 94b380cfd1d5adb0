"""Built-in scorers: importing this module registers every one of them.

Each family lives in its own module:

- text:        equals, contains, icontains (+ -all / -any), regex, starts-with,
               levenshtein, finish-reason
- jsonscorers: is-json, contains-json, schema-valid
- tools:       tool-call
- metrics:     latency, cost
- inline:      expression, json-path, length
- similar:     similar (local embedding model; the ``similar`` extra)
- rubric:      llm-rubric (a judge call through any configured target)
- pyfunc:      python (a user function by dotted path)
- formats:     is-xml (defusedxml), is-sql (sqlglot; the ``sql`` extra)
- overlap:     rouge-n, bleu
- assertset:   assert-set (a group of assertions scored as one)

Any type takes a ``not-`` prefix; weights and thresholds are applied in scoring.base.
"""

from __future__ import annotations

from harness.scoring import (  # noqa: F401  (imported for their @scorer registrations)
    assertset,
    formats,
    inline,
    jsonscorers,
    metrics,
    overlap,
    pyfunc,
    rubric,
    similar,
    text,
    tools,
)
from harness.scoring.jsonscorers import schema_valid
from harness.scoring.metrics import cost, latency
from harness.scoring.text import equals, levenshtein_distance

__all__ = ["cost", "equals", "latency", "levenshtein_distance", "schema_valid"]
