"""The CI regression gate: baselines, paired comparisons with verdicts, renderings.

    save_baseline(results, path, meta)       write a committed baseline file
    load_baseline(path) -> Baseline           read one (ConfigError naming file, line, fix)
    load_gate_settings(rootdir, overrides)    [tool.llm-harness.gate] or [llm-harness:gate]
    compare(baseline, results, settings)      -> Comparison (.has_regression, .to_dict())
    render_text / render_markdown             the verdict table with its evidence
    GATE_EXIT_CODE = 6                        exit status of a failed gate

No pytest here: the plugin and finish.py call these; ``llm-harness compare`` is gate/cli.py.
"""

from harness.gate.baseline import (
    Baseline,
    CellOutcome,
    baseline_from_results,
    load_baseline,
    save_baseline,
)
from harness.gate.compare import (
    Comparison,
    GroupComparison,
    MetricResult,
    Verdict,
    compare,
    compare_baselines,
)
from harness.gate.render import GATE_EXIT_CODE, render_markdown, render_text
from harness.gate.settings import GateSettings, load_gate_settings

__all__ = [
    "GATE_EXIT_CODE",
    "Baseline",
    "CellOutcome",
    "Comparison",
    "GateSettings",
    "GroupComparison",
    "MetricResult",
    "Verdict",
    "baseline_from_results",
    "compare",
    "compare_baselines",
    "load_baseline",
    "load_gate_settings",
    "render_markdown",
    "render_text",
    "save_baseline",
]
