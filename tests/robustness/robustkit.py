"""Shared helpers of the robustness tests: a project folder with suites, a run of the
harness in a subprocess against the simulator, and what it left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY")


def suite_text(name: str = "s", cases: int = 6, target: str = "openai:gpt-4o-mini") -> str:
    return (
        f"name: {name}\ntargets: [{target}]\nmax_tokens: 20\n"
        "prompt:\n  user: 'Echo {{ n }}'\ncases:\n"
        + "".join(f"  - {{id: c{i:02d}, vars: {{n: item{i}}}}}\n" for i in range(cases))
    )


def project(root: Path, suites: dict[str, str]) -> Path:
    (root / "evals").mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, text in suites.items():
        path = root / "evals" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@dataclass
class Run:
    code: int
    out: str
    err: str
    out_dir: Path

    @property
    def text(self) -> str:
        return self.out + self.err

    def records(self) -> list[dict[str, Any]]:
        path = self.out_dir / "results.jsonl"
        if not path.exists():
            return []
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def env_for(root: Path, base_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS and not k.endswith("_BASE_URL")}
    env["LLM_HARNESS_CACHE_DIR"] = str(root / "cache")
    if base_url is not None:
        env["OPENAI_API_KEY"] = "sk-sim"
        env["OPENAI_BASE_URL"] = base_url
    env.update(extra)
    return env


def run_pytest(root: Path, *args: str, base_url: str | None = None, out: str = "run",
               env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    cmd = [sys.executable, "-m", "pytest", "evals", "-p", "no:cacheprovider", "-q",
           f"--llm-out={out}", *args]
    proc = subprocess.run(cmd, cwd=root, env=env or env_for(root, base_url),
                          capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr, root / out)


def run_cli(root: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 300) -> Run:
    cmd = [sys.executable, "-m", "harness.cli", *args]
    proc = subprocess.run(cmd, cwd=root, env=env or env_for(root, None),
                          capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr, root)
