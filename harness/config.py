"""Run settings: one frozen Settings object whose fields are the options, one precedence rule.

Precedence, highest first, resolved in ``resolve_value`` and nowhere else:

    command line  >  marker / suite file  >  ini (pytest.ini, pyproject [tool.pytest.ini_options])
                  >  environment variable  >  default

Every option has a command-line flag (``--llm-*``), an ini twin (``llm_*``) and, where one is
natural, an environment variable (``LLM_HARNESS_*``), all declared with the field
(``harness.options``: the scheme the gate settings share). The plugin registers them from
OPTIONS; the CLI and the library API use the same parsers, so a bad value reads the same
everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.calls.cache import CacheMode
from harness.options import (
    Option,
    boolean,
    choice,
    comma_list,
    option,
    positive_number,
    table,
    text,
    whole_number,
)
from harness.run.shard import Shard, parse_shard

_positive_int = whole_number(1)
_non_negative_int = whole_number(0)


def _repeat(value: str) -> int:
    from harness.suite.limits import REPEAT

    repeats = _positive_int(value)
    if repeats > REPEAT.value():
        raise ValueError(f"expected at most {REPEAT.value():g} repeats, got {repeats}; "
                         f"{REPEAT.fix()}")
    return repeats


def _judge(text: str) -> str:
    """A judge target string, checked as a suite's ``judge:`` is."""
    from harness.providers import PROVIDERS
    from harness.suite.targets import TargetProblem, parse_target

    value = text.strip()
    try:
        parse_target(value)
    except TargetProblem as exc:
        # A mapping is no option value: keep the problem, name the one accepted form.
        problem = str(exc).split("; accepted forms")[0]
        raise ValueError(f"judge {problem}; write it as provider:model with provider one of "
                         f"{', '.join(sorted(PROVIDERS))}, e.g. openai:gpt-4o-mini") from None
    return value


@dataclass(frozen=True)
class Settings:
    """One run's settings. Every field but ``rootdir`` and ``extra`` is an option: its
    ``option(...)`` gives the default, the parser, the help, the environment variable, and
    the plugin, the CLI and the library API read them from here (``OPTIONS``)."""

    rootdir: Path
    out: Path | None = option(
        None,
        text,
        "run directory for results.jsonl, summary.json and the report "
        "(default reports/runs/<run-id>)",
        env="LLM_HARNESS_OUT",
        metavar="DIR",
        path=True,
    )
    cache: CacheMode = option(
        CacheMode.USE,
        CacheMode.parse,
        "response cache mode: use (default), refresh, "
        "replay (no network; a miss fails the cell), off",
        env="LLM_HARNESS_CACHE",
        metavar="MODE",
    )
    cache_dir: Path | None = option(
        None,
        text,
        "response cache directory (default <rootdir>/.llm-cache)",
        env="LLM_HARNESS_CACHE_DIR",
        metavar="DIR",
        path=True,
    )
    concurrency: int = option(
        16,
        _positive_int,
        "concurrent calls per provider (default 16)",
        env="LLM_HARNESS_CONCURRENCY",
        metavar="N",
    )
    targets: tuple[str, ...] = option(
        (),
        comma_list,
        "only run targets matching these patterns, e.g. 'openai:*,local:*'",
        env="LLM_HARNESS_TARGETS",
        metavar="PATTERNS",
    )
    repeat: int | None = option(
        None,
        _repeat,
        "samples per case x target x temperature (overrides the suite's repeat)",
        env="LLM_HARNESS_REPEAT",
        metavar="N",
    )
    budget: float | None = option(
        None,
        positive_number,
        "USD ceiling for live calls in this run; cells past it are skipped",
        env="LLM_HARNESS_BUDGET",
        metavar="USD",
    )
    timeout: float | None = option(
        None,
        positive_number,
        "per-call timeout in seconds (overrides the suite's timeout_s)",
        env="LLM_HARNESS_TIMEOUT",
        metavar="SECONDS",
    )
    max_retries: int = option(
        4,
        _non_negative_int,
        "retries per call on rate limits and transient "
        "errors (default 4; bounded in time by --llm-retry-time)",
        env="LLM_HARNESS_MAX_RETRIES",
        metavar="N",
    )
    retry_time: float = option(
        120.0,
        positive_number,
        "seconds after which a call is not retried again (default 120)",
        env="LLM_HARNESS_RETRY_TIME",
        metavar="SECONDS",
    )
    estimate: bool = option(
        False,
        boolean,
        "print the calls and cost the run would make, send none",
        flag=True,
    )
    report: bool = option(
        True,
        boolean,
        "write report.html and exports at session end (default true)",
        env="LLM_HARNESS_REPORT",
        metavar="BOOL",
    )
    prices: Path | None = option(
        None,
        text,
        "YAML/JSON price file that overrides and extends the shipped price table",
        env="LLM_HARNESS_PRICES",
        metavar="PATH",
        path=True,
    )
    save_baseline: Path | None = option(
        None,
        text,
        "write this run's outcomes to a baseline file",
        metavar="PATH",
        path=True,
    )
    baseline: Path | None = option(
        None,
        text,
        "compare this run with a baseline file, or git:REF:PATH for the file as committed "
        "at REF (e.g. git:origin/main:baselines/main.json)",
        metavar="PATH",
        env="LLM_HARNESS_BASELINE",
        path=True,
        git_ref=True,
    )
    gate_md: Path | None = option(
        None,
        text,
        "also write the gate's verdicts and changed cases as Markdown to PATH (a PR comment)",
        metavar="PATH",
        path=True,
    )
    gate: str = option(
        "off",
        choice("gate mode", ("off", "warn", "fail")),
        "off | warn | fail: with fail, a regression against the baseline exits with status 6",
        env="LLM_HARNESS_GATE",
        metavar="MODE",
    )
    worker: str = option(
        "auto",
        choice("worker mode", ("auto", "on", "off")),
        "auto | on | off: run cells in a worker process beside pytest, so the two use "
        "separate cores (auto: runs of 200 cells or more)",
        env="LLM_HARNESS_WORKER",
        metavar="MODE",
    )
    shard: Shard | None = option(
        None,
        parse_shard,
        "run only shard K of N (e.g. 2/4): a stable share of the cells, by cell identity; "
        "merge the shards' runs with 'llm-harness report' and caches with "
        "'llm-harness cache merge'",
        env="LLM_HARNESS_SHARD",
        metavar="K/N",
    )
    log_prompts: bool = option(
        False,
        boolean,
        "let SDK and HTTP debug logs through (they contain prompts); API keys stay masked",
        env="LLM_HARNESS_LOG_PROMPTS",
        flag=True,
    )
    judge: str | None = option(
        None,
        _judge,
        "default judge (provider:model) of model-graded assertions (llm-rubric, factuality, "
        "...) that name none; a suite's judge: comes first",
        env="LLM_HARNESS_JUDGE",
        metavar="TARGET",
    )
    suite_dirs: tuple[str, ...] = option(
        ("evals",),
        comma_list,
        "comma-separated folders whose *.yaml files are suites",
        metavar="DIRS",
    )
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.rootdir / ".llm-cache"

    @classmethod
    def build(cls, rootdir: Path, values: Mapping[str, Any]) -> Settings:
        """From resolved option values (name -> value; a missing or None one is the
        default), relative paths resolved against ``rootdir``."""
        given = {}
        for opt in OPTIONS:
            value = values.get(opt.name)
            given[opt.name] = opt.default if value is None else opt.as_path(value, rootdir)
        return cls(rootdir=rootdir, **given)


#: Every run option, in the order --help lists them.
OPTIONS: tuple[Option, ...] = table(Settings)

OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}


def resolve_value(
    option: Option,
    *,
    cli: Any = None,
    suite: Any = None,
    ini: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Any:
    """The one precedence rule. ``cli`` is already parsed; ``suite`` is a value the suite
    file or a marker set explicitly (None when it did not); ``ini`` and env are raw text."""
    if cli is not None:
        return cli
    if suite is not None:
        return suite
    if ini not in (None, ""):
        return option.parse(str(ini))
    if env is not None and option.env and env.get(option.env):
        return option.parse(env[option.env])
    return option.default
