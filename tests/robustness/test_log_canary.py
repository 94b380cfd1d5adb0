"""At DEBUG log level, for all four cloud providers and with the worker process: no prompt
text in any output or log, and no API key in any output or file the run leaves."""

from __future__ import annotations

from pathlib import Path

import pytest
from robustkit import KEYS, env_for, project, run_pytest

from harness.simulator import Simulator

for _sdk in ("openai", "anthropic", "groq", "mistralai"):
    pytest.importorskip(_sdk)

PROMPT = "CANARYPROMPT-5x7q"
KEY = {name: f"sk-canary-{name.split('_')[0].lower()}-0123456789" for name in KEYS}
TARGETS = "[openai:gpt-4o-mini, anthropic:claude-haiku-4-5, groq:llama-3.1-8b-instant, " \
          "mistral:mistral-small-latest]"
SUITE = (
    f"name: canary\ntargets: {TARGETS}\nmax_tokens: 20\ntemperatures: [null]\n"
    f"prompt:\n  system: 'You are {PROMPT} system'\n  user: 'Tell {PROMPT} about {{{{ n }}}}'\n"
    "cases:\n" + "".join(f"  - {{id: c{i}, vars: {{n: item{i}}}}}\n" for i in range(3))
)
DEBUG = ("--log-level=DEBUG", "-o", "log_cli=true", "-o", "log_cli_level=DEBUG", "-rA")


def run(tmp_path: Path, *args: str) -> tuple[str, Path]:
    project(tmp_path, {"canary.yaml": SUITE})
    with Simulator({"default": {"answer": "canned", "canned_default": "fine"}}) as sim:
        env = env_for(tmp_path, None, **KEY)
        for provider in ("openai", "anthropic", "groq", "mistral"):
            env[f"{provider.upper()}_BASE_URL"] = sim.base_url(provider)
        done = run_pytest(tmp_path, *DEBUG, *args, env=env)
        assert sim.request_count() == 12
    assert done.code == 0, done.text[-3000:]
    return done.text, tmp_path


@pytest.mark.parametrize("worker", ["off", "on"])
def test_no_prompt_or_key_in_debug_logs_or_files(tmp_path: Path, worker: str) -> None:
    output, root = run(tmp_path, f"--llm-worker={worker}")
    assert "DEBUG" in output  # the run really logged at DEBUG
    assert PROMPT not in output
    for key in KEY.values():
        assert key not in output
    logs = [p for p in root.rglob("*") if p.is_file() and p.suffix == ".log"]
    if worker == "on":
        assert logs or not (root / "run" / "worker.log").exists()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for key in KEY.values():
            assert key.encode() not in data, path
        # (The suite's parse cache and results.jsonl hold prompts by design.)
        if path.suffix == ".log" or path.name.startswith("cache.db"):
            assert PROMPT.encode() not in data, path


def test_log_prompts_lets_sdk_debug_through_but_keys_stay_masked(tmp_path: Path) -> None:
    output, _ = run(tmp_path, "--llm-worker=off", "--llm-log-prompts")
    assert PROMPT in output  # the SDKs do log prompts: the guard above is what hides them
    for key in KEY.values():
        assert key not in output
