"""The ``llm-harness`` console script.

    llm-harness run [PATHS...] [-- PYTEST ARGS]   run suites through pytest (default: evals/)
    llm-harness report RUN... [-o FILE]           re-render a report, no provider calls
    llm-harness compare A B                       compare two runs or a run and a baseline
    llm-harness compare RUN --prompts v1,v2       two prompt variants (or --targets) of a run
    llm-harness diff A B [--all]                  cases whose verdict changed, side by side
    llm-harness simulate [--demo] [--port P]      start the provider simulator
    llm-harness init [DIR]                        write a starter project (never overwrites)
    llm-harness view [RUN] [--serve]              open the latest or a named report
    llm-harness runs                              list past runs with headline figures
    llm-harness import promptfoo CONFIG [--out D] convert a promptfoo config into a suite
    llm-harness providers                         providers, key presence, base URLs, prices
    llm-harness cache stats|clear|verify [--repair]  inspect, check or clear the response cache
    llm-harness cache merge SRC... DEST           fold caches (e.g. CI shards') into DEST

Each subcommand that belongs to a pipeline stage lives in that stage's package; this module
only dispatches. Bad input prints one line and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "diff": ("harness.gate.diff_cli", "cases whose verdict changed, both outputs side by side"),
    "simulate": ("harness.simulator.cli", "start the loopback provider simulator"),
    "init": ("harness.starter", "write a starter suite, settings and CI workflow here"),
    "view": ("harness.results.runs:main_view", "open the latest (or a named) run's report"),
    "runs": ("harness.results.runs:main_runs", "list past runs with their headline figures"),
    "import": ("harness.suite.promptfoo_import", "convert a promptfoo config into a suite"),
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
    if any(a in ("-h", "--help") for a in argv):
        print(run_help())
        return 0
    # "--" separates our arguments from pytest's in the usage line; pytest must not see it.
    args = [a for a in argv if a != "--"]
    if not any(Path(a.split("::")[0]).exists() for a in _positional(args)):
        if not Path("evals").is_dir():
            print("llm-harness run: no suite path given and no evals/ folder here", file=sys.stderr)
            return EXIT_USAGE
        args.insert(0, "evals")
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfEs", *args]
    from harness.run.signals import run_forwarding

    # Not subprocess.call: on Ctrl-C it kills pytest 0.25 s later, before the summary,
    # report and exports of the finished cells are written.
    return run_forwarding(cmd)


def run_help() -> str:
    """The harness's own options (from the one option table), then where pytest's are."""
    import textwrap

    from harness.config import OPTIONS

    lines = [
        "usage: llm-harness run [PATHS...] [OPTIONS] [PYTEST OPTIONS]",
        "",
        "Run suites (default: evals/) and plain tests through pytest; write results.jsonl,",
        "the summary and report.html under reports/runs/<run-id>/.",
        "",
        "harness options (each also an ini key llm_NAME, most an environment variable):",
    ]
    for opt in OPTIONS:
        head = opt.cli + ("" if opt.flag else f" {opt.metavar or 'VALUE'}")
        env = f" [{opt.env}]" if opt.env else ""
        lines.append(f"  {head}")
        pad = " " * 6
        lines += textwrap.wrap(opt.help + env, 84, initial_indent=pad, subsequent_indent=pad)
    lines += [
        "",
        "Every pytest option works too (-k, -m PROVIDER, -x, -n 2, --lf, --junitxml ...):",
        "see them with `python -m pytest --help`.",
    ]
    return "\n".join(lines)


def cmd_providers(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness providers", description="List providers and their configuration."
    )
    parser.parse_args(argv)
    from importlib import metadata, util

    from harness.calls.pricing import load_prices
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
            sdk = f"missing: pip install 'pytest-llm-harness[{info.extra}]'"
        else:
            try:
                sdk = f"{info.sdk_dist} {metadata.version(info.sdk_dist)}"
            except metadata.PackageNotFoundError:
                sdk = info.sdk_dist
        print(f"{info.name}\n  key: {key}\n  base URL: {base}\n  SDK: {sdk}")
        if info.notes:
            print(f"  notes: {info.notes}")
        for row in prices.models_for(info.prices) if info.prices else ():
            print(f"  {row}")
    print(f"prices as of {prices.date}")
    return 0


def cmd_cache_merge(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="llm-harness cache merge",
        description="Fold the answers of one or more caches (e.g. the shards' of a split CI "
        "run) into DEST, created if missing. DEST keeps an answer it already has.",
    )
    parser.add_argument("src", nargs="+", metavar="SRC", help="a cache directory to read")
    parser.add_argument("dest", metavar="DEST", help="the cache directory to write")
    args = parser.parse_args(argv)
    from harness.calls.cache import merge_caches

    sources = [Path(s) for s in args.src]
    dest = Path(args.dest)
    for src in sources:
        if not src.is_dir():
            print(f"llm-harness cache merge: {src}: no cache directory here", file=sys.stderr)
            return EXIT_USAGE
        if src.resolve() == dest.resolve():
            print(
                f"llm-harness cache merge: {src} is also DEST; name each cache once",
                file=sys.stderr,
            )
            return EXIT_USAGE
    counts = merge_caches(sources, dest)
    unreadable = f", {counts['unreadable']} unreadable skipped" if counts["unreadable"] else ""
    print(
        f"merged {len(sources)} cache(s) into {dest}: {counts['added']} answers added, "
        f"{counts['kept']} already there{unreadable}"
    )
    return 0


def cmd_cache(argv: Sequence[str]) -> int:
    if argv and argv[0] == "merge":
        return cmd_cache_merge(argv[1:])
    parser = argparse.ArgumentParser(
        prog="llm-harness cache",
        description="Inspect, check or clear the response cache. verify reads every entry "
        "as a run would; --repair drops the damaged ones (a damaged db is moved aside).",
    )
    parser.add_argument("action", choices=["stats", "clear", "verify", "merge"])
    parser.add_argument("--dir", default=os.environ.get("LLM_HARNESS_CACHE_DIR", ".llm-cache"))
    parser.add_argument("--repair", action="store_true", help="with verify: fix what it finds")
    args = parser.parse_args(argv)
    from harness.calls.cache_cli import cache_command

    return cache_command(args.action, Path(args.dir), repair=args.repair)


LOCAL: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "run": (cmd_run, "run suites through pytest (default: evals/)"),
    "providers": (cmd_providers, "list providers, key presence, base URLs and prices"),
    "cache": (cmd_cache, "inspect, clear or merge response caches"),
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
            module_name, _, func = DELEGATED[name][0].partition(":")
            module = importlib.import_module(module_name)
            code: int = getattr(module, func or "main")(rest)
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
