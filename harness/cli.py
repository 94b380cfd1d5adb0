"""The ``llm-harness`` console script.

    llm-harness run [PATHS...] [-- PYTEST ARGS]   run suites through pytest (default: evals/)
    llm-harness report RUN... [-o FILE]           re-render a report, no provider calls
    llm-harness compare A B                       compare two runs or a run and a baseline
    llm-harness simulate --port P                 start the provider simulator
    llm-harness import promptfoo CONFIG [--out D] convert a promptfoo config into a suite
    llm-harness providers                         providers, key presence, base URLs, prices
    llm-harness cache stats|clear [--dir DIR]     inspect or clear the response cache

Each subcommand that belongs to a pipeline stage lives in that stage's package; this module
only dispatches. Bad input prints one line and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import __version__
from harness.errors import HarnessError

EXIT_USAGE = 2

#: Subcommands implemented by their stage: name -> "module:function" taking argv.
DELEGATED = {
    "report": ("harness.report.cli", "re-render report.html and exports from stored runs"),
    "compare": ("harness.gate.cli", "compare two runs (or a run and a baseline)"),
    "simulate": ("harness.simulator.cli", "start the loopback provider simulator"),
    "import": ("harness.promptfoo_import", "convert a promptfoo config into a suite"),
}


#: pytest options whose value is the next argument (so it is not taken for a suite path).
PYTEST_VALUED = frozenset(
    {
        "-k",
        "-m",
        "-p",
        "-n",
        "-c",
        "-o",
        "-W",
        "--rootdir",
        "--junitxml",
        "--junit-xml",
        "--basetemp",
        "--maxfail",
        "--durations",
        "--tb",
        "--deselect",
        "--ignore",
        "--confcutdir",
        "--dist",
        "--override-ini",
        "--log-level",
        "--import-mode",
    }
)


def _positional(args: Sequence[str]) -> list[str]:
    """The arguments that are not options or option values (``--llm-baseline PATH``)."""
    from harness.config import OPTIONS

    valued = PYTEST_VALUED | {o.cli for o in OPTIONS if not o.flag}
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in valued
        else:
            out.append(arg)
    return out


def cmd_run(argv: Sequence[str]) -> int:
    """Run suites through pytest so plain tests, markers and plugins all behave the same.
    Every argument is passed to pytest; with no existing path among them, evals/ is run."""
    # "--" separates our arguments from pytest's in the usage line; pytest must not see it.
    args = [a for a in argv if a != "--"]
    if not any(Path(a.split("::")[0]).exists() for a in _positional(args)):
        if not Path("evals").is_dir():
            print("llm-harness run: no suite path given and no evals/ folder here", file=sys.stderr)
            return EXIT_USAGE
        args.insert(0, "evals")
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfEs", *args]
    return subprocess.call(cmd)


def cmd_providers(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness providers", description="List providers and their configuration."
    )
    parser.parse_args(argv)
    from importlib import metadata, util

    from harness.pricing import load_prices
    from harness.providers import PROVIDERS

    prices = load_prices()
    for info in PROVIDERS.values():
        if info.api_key_env:
            key = "set" if os.environ.get(info.api_key_env) else f"not set ({info.api_key_env})"
        elif info.base_url_env:
            key = "optional (a target's api_key_env names the variable)"
        else:
            key = "not needed"
        from_env = os.environ.get(info.base_url_env) if info.base_url_env else None
        if from_env:
            base = f"{from_env} (from {info.base_url_env})"
        elif info.default_base_url:
            base = f"{info.default_base_url} (default; {info.base_url_env} overrides)"
        elif info.base_url_env:
            base = f"not set ({info.base_url_env} or a target's base_url)"
        else:
            base = "-"
        # find_spec, not import: importing some SDKs takes seconds.
        if util.find_spec(info.sdk_module) is None:
            sdk = f"missing: pip install 'llm-harness[{info.extra}]'"
        else:
            try:
                sdk = f"{info.sdk_dist} {metadata.version(info.sdk_dist)}"
            except metadata.PackageNotFoundError:
                sdk = info.sdk_dist
        print(f"{info.name}\n  key: {key}\n  base URL: {base}\n  SDK: {sdk}")
        if info.notes:
            print(f"  notes: {info.notes}")
        for row in prices.models_for(info.name):
            print(f"  {row}")
    print(f"prices as of {prices.date}")
    return 0


def cmd_cache(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness cache", description="Inspect or clear the response cache."
    )
    parser.add_argument("action", choices=["stats", "clear"])
    parser.add_argument("--dir", default=os.environ.get("LLM_HARNESS_CACHE_DIR", ".llm-cache"))
    args = parser.parse_args(argv)
    from harness.cache import CacheMode, ResponseCache

    path = Path(args.dir)
    if not path.exists():
        print(f"no cache at {path}")
        return 0
    cache = ResponseCache(path, CacheMode.USE)
    try:
        if args.action == "stats":
            s = cache.stats()
            print(f"{s['entries']} responses, {s['bytes'] / 1e6:.1f} MB in {s['directory']}")
        else:
            print(f"removed {cache.clear()} responses from {path}")
    finally:
        cache.close()
    return 0


LOCAL: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "run": (cmd_run, "run suites through pytest (default: evals/)"),
    "providers": (cmd_providers, "list providers, key presence, base URLs and prices"),
    "cache": (cmd_cache, "inspect or clear the response cache"),
}


def usage() -> str:
    lines = [f"llm-harness {__version__}: evaluate LLM prompts as pytest tests", "", "commands:"]
    for name, (_, text) in LOCAL.items():
        lines.append(f"  {name:<10} {text}")
    for name, (_, text) in DELEGATED.items():
        lines.append(f"  {name:<10} {text}")
    lines.append("\n'llm-harness COMMAND --help' for a command's options")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else EXIT_USAGE
    if args[0] == "--version":
        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    try:
        if name in LOCAL:
            return LOCAL[name][0](rest)
        if name in DELEGATED:
            module = importlib.import_module(DELEGATED[name][0])
            code: int = module.main(rest)
            return code
    except HarnessError as exc:
        print(f"llm-harness {name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    print(f"llm-harness: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
