"""``llm-harness init``: write a working starter into the current project, never overwriting.

The starter is a suite with a JSON schema and a dataset (evals/, datasets/), the pytest ini
block that makes the project's folder the run's home, .gitignore entries for the response
cache and the runs, a GitHub Actions workflow and a script that runs the suites against the
demo simulator. The files themselves live in ``harness/data/starter/``; this module only
places them. A file that exists is left alone and named; text files that take entries
(pyproject.toml, .gitignore) get only the entries they lack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

#: Starter file -> where it goes in the project.
FILES = {
    "contacts.yaml": "evals/contacts.yaml",
    "contacts.jsonl": "datasets/contacts.jsonl",
    "contacts.schema.json": "datasets/contacts.schema.json",
    "llm-evals.yml": ".github/workflows/llm-evals.yml",
    "simulate.sh": "scripts/llm-simulate.sh",
}

GITIGNORE = (".llm-cache/", "reports/runs/", "reports/merged/")

INI_BLOCK = """\
[tool.pytest.ini_options]
# pytest-llm-harness: suites are the YAML files under these folders; the response cache and
# the runs live beside this file (llm-harness run reads these too).
llm_suite_dirs = "evals"
llm_cache_dir = ".llm-cache"
"""


def _starter(name: str) -> str:
    return resources.files("harness").joinpath("data", "starter", name).read_text("utf-8")


def init_project(root: Path) -> list[str]:
    """Write the starter into ``root``; one line per file saying what happened."""
    done: list[str] = []
    for source, target in FILES.items():
        path = root / target
        if path.exists():
            done.append(f"kept     {target} (exists)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_starter(source), "utf-8")
        if source.endswith(".sh"):
            path.chmod(0o755)
        done.append(f"wrote    {target}")
    done.append(_pyproject(root / "pyproject.toml"))
    done.append(_gitignore(root / ".gitignore"))
    return done


def _pyproject(path: Path) -> str:
    if not path.exists():
        path.write_text(INI_BLOCK, "utf-8")
        return "wrote    pyproject.toml ([tool.pytest.ini_options])"
    text = path.read_text("utf-8")
    if "[tool.pytest.ini_options]" in text:
        if "llm_" in text:
            return "kept     pyproject.toml (has llm_ settings)"
        # Appending a second table would make the file invalid TOML: say what to add.
        lines = INI_BLOCK.splitlines()[1:]
        return (
            "kept     pyproject.toml (has [tool.pytest.ini_options]; add these lines to it:\n"
            + "\n".join(f"           {line}" for line in lines)
            + ")"
        )
    path.write_text(text.rstrip("\n") + "\n\n" + INI_BLOCK, "utf-8")
    return "added    [tool.pytest.ini_options] to pyproject.toml"


def _gitignore(path: Path) -> str:
    text = path.read_text("utf-8") if path.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [entry for entry in GITIGNORE if entry not in present]
    if not missing:
        return "kept     .gitignore (has the cache and runs entries)"
    prefix = text if not text or text.endswith("\n") else text + "\n"
    path.write_text(prefix + "\n".join(missing) + "\n", "utf-8")
    return f"added    {', '.join(missing)} to .gitignore"


NEXT_STEPS = """
next:
  llm-harness run                      run evals/ (targets without a key are skipped)
  scripts/llm-simulate.sh              the same against `llm-harness simulate --demo`, no keys
  llm-harness view                     open the latest report
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness init",
        description="Write a starter suite, dataset, schema, pytest settings, .gitignore "
        "entries, a CI workflow and a simulator script into the project; never overwrites.",
    )
    parser.add_argument("dir", nargs="?", default=".", help="project folder (default: here)")
    args = parser.parse_args(argv)
    root = Path(args.dir)
    if not root.is_dir():
        print(f"llm-harness init: {root} is not a folder", file=sys.stderr)
        return 2
    for line in init_project(root):
        print(line)
    print(NEXT_STEPS.rstrip())
    return 0
