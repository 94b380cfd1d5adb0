"""The prompt-variant acceptance scenario, with its figures printed.

A suite of CASES cases with two prompt variants on the simulator, scripted (by prompt
substring) to answer schema-valid JSON for 90% of the cases under v1 and 60% under v2
(v1 fails cases 0-9, v2 cases 5-44). Printed:
1. the run's prompt-variant section (v2 against v1, paired) and v2's ``versus_reference``
   figures from summary.json: rates, b/c, the test, p and Holm-adjusted p, the verdict;
2. ``llm-harness diff RUN --prompts v1,v2``: how many cases flipped;
3. the gate: a baseline recorded with the v1 text as the one prompt, the text then edited
   to the v2 text: exit status and the gate's last line; then a neutral rewording.

    .venv/bin/python bench/bench_variants.py

Nothing is asserted (tests/gate/test_variants_e2e.py does that); the run uses a temporary
directory and the in-process simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.simulator import Simulator

CASES = 100
V1_BAD = range(0, 10)
V2_BAD = range(5, 45)
SCHEMA = "{type: object, properties: {ok: {type: boolean}}, required: [ok]}"


def cases() -> str:
    return "\n".join(f"  - {{id: c{i:03d}, vars: {{n: '[c{i:03d}]'}}}}" for i in range(CASES))


def variant_suite() -> str:
    return f"""\
name: items
targets: [openai:gpt-4o-mini]
temperatures: [0.0]
max_tokens: 50
schema: {SCHEMA}
prompts:
  - {{id: v1, user: "Item {{{{ n }}}}/one: answer as JSON."}}
  - {{id: v2, user: "Item {{{{ n }}}}/two: answer as JSON."}}
assert: [{{type: schema-valid}}]
cases:
{cases()}
"""


def single_suite(user: str) -> str:
    return f"""\
name: items
targets: [openai:gpt-4o-mini]
temperatures: [0.0]
max_tokens: 50
schema: {SCHEMA}
prompt: {{user: "{user}"}}
assert: [{{type: schema-valid}}]
cases:
{cases()}
"""


def run(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--llm-report=false",
         "--llm-cache=off", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )


def section(text: str, title: str) -> str:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("====")),
               len(lines))
    return "\n".join(lines[start:end])


def main() -> None:
    canned = {f"[c{i:03d}]/one": "not json" for i in V1_BAD}
    canned |= {f"[c{i:03d}]/two": "not json" for i in V2_BAD}
    script = {"seed": 1, "default": {"latency_ms": 1, "canned": canned,
                                     "canned_default": '{"ok": true}'}}
    with tempfile.TemporaryDirectory() as tmp, Simulator(script) as sim:
        project = Path(tmp)
        (project / "evals").mkdir()
        # Rates are what this scenario is about; timing on a shared machine is not.
        (project / "pyproject.toml").write_text(
            "[tool.llm-harness.gate]\nlatency_slack_ms = 100000\ncost_tolerance = 1.5\n"
        )
        env = {**os.environ, "OPENAI_API_KEY": "sk-test",
               "OPENAI_BASE_URL": sim.base_url("openai")}

        (project / "evals" / "items.yaml").write_text(variant_suite())
        proc = run(project, env, "--llm-out=runs/variants")
        print(section(proc.stdout, "llm-harness prompt variants"))
        summary = json.loads((project / "runs/variants/summary.json").read_text())
        for g in summary:
            rate = g["schema_valid_rate"]
            print(f"{g['prompt']}: pass {g['pass_rate']:.0%}, schema-valid {rate:.0%}")
        v2 = next(g for g in summary if g["prompt"] == "v2")["versus_reference"]
        for name in ("pass_rate", "schema_valid_rate"):
            m = v2["metrics"][name]
            print(f"v2 vs v1 {name}: b={m['b']} c={m['c']} {m['test']} p={m['p_value']:.3g} "
                  f"p_holm={m['p_adjusted']:.3g} -> {m['verdict']}")
        diff = subprocess.run(
            [sys.executable, "-m", "harness.cli", "diff", "runs/variants", "--prompts", "v1,v2"],
            cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        print("diff:", diff.stdout.splitlines()[2])

        (project / "evals" / "items.yaml").write_text(single_suite("Item {{ n }}/one: as JSON."))
        run(project, env, "--llm-save-baseline=baselines/main.json")
        gate = ("--llm-baseline=baselines/main.json", "--llm-gate=fail")
        for label, text in (("edited to v2", "Item {{ n }}/two: as JSON."),
                            ("neutral rewording", "Please, item {{ n }}/one: JSON.")):
            (project / "evals" / "items.yaml").write_text(single_suite(text))
            proc = run(project, env, *gate)
            last = next(line for line in proc.stdout.splitlines() if line.startswith("gate:"))
            print(f"gate, prompt {label}: exit {proc.returncode}; {last}")


if __name__ == "__main__":
    main()
