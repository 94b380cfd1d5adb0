"""Resource limits on user data and code: one table, each limit overridable by environment.

Suites, datasets and scorers come from files a pull request can edit; on a shared CI runner
a 400-byte YAML alias bomb or ``{{ 'x' * 300000000 }}`` must be a clear error, not gigabytes
of memory, and a catastrophic regex must not hang the run. The operator of a runner can
raise (or lower) a limit with the environment variable named beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    name: str
    env: str
    default: float
    what: str

    def value(self) -> float:
        raw = os.environ.get(self.env)
        if not raw:
            return self.default
        try:
            number = float(raw)
        except ValueError:
            return self.default
        return number if number > 0 else self.default

    def fix(self) -> str:
        return f"raise it with {self.env}=N in the environment if this is intended"


YAML_NODES = Limit("yaml_nodes", "LLM_HARNESS_MAX_YAML_NODES", 2_000_000,
                   "YAML values in one file after alias expansion")
FILE_BYTES = Limit("file_bytes", "LLM_HARNESS_MAX_FILE_BYTES", 256 * 2**20,
                   "bytes in one suite, dataset or schema file")
PROMPT_CHARS = Limit("prompt_chars", "LLM_HARNESS_MAX_PROMPT_CHARS", 2_000_000,
                     "characters in one rendered template")
CELLS = Limit("cells", "LLM_HARNESS_MAX_CELLS", 1_000_000, "cells in one suite")
REPEAT = Limit("repeat", "LLM_HARNESS_MAX_REPEAT", 1000, "repeats of a cell")
SCORER_S = Limit("scorer_s", "LLM_HARNESS_SCORER_TIMEOUT_S", 10.0,
                 "seconds one regex or python scorer may run")

ALL = (YAML_NODES, FILE_BYTES, PROMPT_CHARS, CELLS, REPEAT, SCORER_S)
