"""Run settings: one table of options, one frozen Settings object, one precedence rule.

Precedence, highest first, resolved in ``resolve_value`` and nowhere else:

    command line  >  marker / suite file  >  ini (pytest.ini, pyproject [tool.pytest.ini_options])
                  >  environment variable  >  default

Every option has a command-line flag (``--llm-*``), an ini twin (``llm_*``) and, where one is
natural, an environment variable (``LLM_HARNESS_*``). The plugin registers them from OPTIONS;
the CLI and the library API use the same parsers, so a bad value reads the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.calls.cache import CacheMode
from harness.run.shard import Shard, parse_shard
from harness.suite.targets import parse_filter


def whole_number(minimum: int) -> Callable[[Any], int]:
    """A parser of whole numbers >= ``minimum`` (text, or a number from TOML; never a bool).
    Shared by the run options and the gate settings, so both read and complain alike."""

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number, got {value!r}")
        try:
            number = value if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"expected a number >= {minimum}, got {number}")
        return number

    return parse


def choice(what: str, valid: tuple[str, ...]) -> Callable[[str], str]:
    """A parser of one of ``valid`` (case-insensitive), naming ``what`` when it is not."""

    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in valid:
            raise ValueError(f"invalid {what} {text!r}; valid modes: {', '.join(valid)}")
        return value

    return parse


_positive_int = whole_number(1)
_non_negative_int = whole_number(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"expected a number > 0, got {text}")
    return value


def _repeat(text: str) -> int:
    from harness.suite.limits import REPEAT

    value = _positive_int(text)
    if value > REPEAT.value():
        raise ValueError(f"expected at most {REPEAT.value():g} repeats, got {value}; "
                         f"{REPEAT.fix()}")
    return value


def _cache_mode(text: str) -> CacheMode:
    return CacheMode.parse(text)


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


_gate = choice("gate mode", ("off", "warn", "fail"))
_worker_mode = choice("worker mode", ("auto", "on", "off"))


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _text(text: str) -> str:
    return text


@dataclass(frozen=True)
class Option:
    name: str  # Settings field and ini name without the llm_ prefix
    parse: Callable[[str], Any]
    default: Any
    help: str
    env: str | None = None
    metavar: str | None = None
    flag: bool = False  # a store_true switch on the command line

    @property
    def cli(self) -> str:
        return "--llm-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "llm_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option(
        "out",
        _text,
        None,
        "run directory for results.jsonl, summary.json and the report "
        "(default reports/runs/<run-id>)",
        env="LLM_HARNESS_OUT",
        metavar="DIR",
    ),
    Option(
        "cache",
        _cache_mode,
        CacheMode.USE,
        "response cache mode: use (default), refresh, "
        "replay (no network; a miss fails the cell), off",
        env="LLM_HARNESS_CACHE",
        metavar="MODE",
    ),
    Option(
        "cache_dir",
        _text,
        None,
        "response cache directory (default <rootdir>/.llm-cache)",
        env="LLM_HARNESS_CACHE_DIR",
        metavar="DIR",
    ),
    Option(
        "concurrency",
        _positive_int,
        16,
        "concurrent calls per provider (default 16)",
        env="LLM_HARNESS_CONCURRENCY",
        metavar="N",
    ),
    Option(
        "targets",
        _text,
        None,
        "only run targets matching these patterns, e.g. 'openai:*,local:*'",
        env="LLM_HARNESS_TARGETS",
        metavar="PATTERNS",
    ),
    Option(
        "repeat",
        _repeat,
        None,
        "samples per case x target x temperature (overrides the suite's repeat)",
        env="LLM_HARNESS_REPEAT",
        metavar="N",
    ),
    Option(
        "budget",
        _positive_float,
        None,
        "USD ceiling for live calls in this run; cells past it are skipped",
        env="LLM_HARNESS_BUDGET",
        metavar="USD",
    ),
    Option(
        "timeout",
        _positive_float,
        None,
        "per-call timeout in seconds (overrides the suite's timeout_s)",
        env="LLM_HARNESS_TIMEOUT",
        metavar="SECONDS",
    ),
    Option(
        "max_retries",
        _non_negative_int,
        4,
        "retries per call on rate limits and transient "
        "errors (default 4; bounded in time by --llm-retry-time)",
        env="LLM_HARNESS_MAX_RETRIES",
        metavar="N",
    ),
    Option(
        "retry_time",
        _positive_float,
        120.0,
        "seconds after which a call is not retried again (default 120)",
        env="LLM_HARNESS_RETRY_TIME",
        metavar="SECONDS",
    ),
    Option(
        "estimate",
        _bool,
        False,
        "print the calls and cost the run would make, send none",
        flag=True,
    ),
    Option(
        "report",
        _bool,
        True,
        "write report.html and exports at session end (default true)",
        env="LLM_HARNESS_REPORT",
        metavar="BOOL",
    ),
    Option(
        "prices",
        _text,
        None,
        "YAML/JSON price file that overrides and extends the shipped price table",
        env="LLM_HARNESS_PRICES",
        metavar="PATH",
    ),
    Option(
        "save_baseline", _text, None, "write this run's outcomes to a baseline file", metavar="PATH"
    ),
    Option(
        "baseline",
        _text,
        None,
        "compare this run with a baseline file, or git:REF:PATH for the file as committed "
        "at REF (e.g. git:origin/main:baselines/main.json)",
        metavar="PATH",
        env="LLM_HARNESS_BASELINE",
    ),
    Option(
        "gate_md",
        _text,
        None,
        "also write the gate's verdicts and changed cases as Markdown to PATH (a PR comment)",
        metavar="PATH",
    ),
    Option(
        "gate",
        _gate,
        "off",
        "off | warn | fail: with fail, a regression against the baseline exits with status 6",
        env="LLM_HARNESS_GATE",
        metavar="MODE",
    ),
    Option(
        "worker",
        _worker_mode,
        "auto",
        "auto | on | off: run cells in a worker process beside pytest, so the two use "
        "separate cores (auto: runs of 200 cells or more)",
        env="LLM_HARNESS_WORKER",
        metavar="MODE",
    ),
    Option(
        "shard",
        parse_shard,
        None,
        "run only shard K of N (e.g. 2/4): a stable share of the cells, by cell identity; "
        "merge the shards' runs with 'llm-harness report' and caches with "
        "'llm-harness cache merge'",
        env="LLM_HARNESS_SHARD",
        metavar="K/N",
    ),
    Option(
        "log_prompts",
        _bool,
        False,
        "let SDK and HTTP debug logs through (they contain prompts); API keys stay masked",
        env="LLM_HARNESS_LOG_PROMPTS",
        flag=True,
    ),
    Option(
        "judge",
        _judge,
        None,
        "default judge (provider:model) of model-graded assertions (llm-rubric, factuality, "
        "...) that name none; a suite's judge: comes first",
        env="LLM_HARNESS_JUDGE",
        metavar="TARGET",
    ),
    Option(
        "suite_dirs",
        _text,
        "evals",
        "comma-separated folders whose *.yaml files are suites",
        metavar="DIRS",
    ),
)

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


@dataclass(frozen=True)
class Settings:
    rootdir: Path
    out: Path | None = None
    cache: CacheMode = CacheMode.USE
    cache_dir: Path | None = None
    concurrency: int = 16
    targets: tuple[str, ...] = ()
    repeat: int | None = None
    budget: float | None = None
    timeout: float | None = None
    max_retries: int = 4
    retry_time: float = 120.0
    estimate: bool = False
    report: bool = True
    prices: Path | None = None
    save_baseline: Path | None = None
    baseline: Path | None = None
    gate_md: Path | None = None
    gate: str = "off"
    suite_dirs: tuple[str, ...] = ("evals",)
    worker: str = "auto"
    shard: Shard | None = None
    log_prompts: bool = False
    judge: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.rootdir / ".llm-cache"

    @classmethod
    def build(cls, rootdir: Path, values: Mapping[str, Any]) -> Settings:
        """From resolved option values (name -> value), turning text into paths/tuples."""

        def path(v: Any) -> Path | None:
            if v in (None, ""):
                return None
            p = Path(v).expanduser()
            return p if p.is_absolute() else rootdir / p

        return cls(
            rootdir=rootdir,
            out=path(values.get("out")),
            cache=values.get("cache") or CacheMode.USE,
            cache_dir=path(values.get("cache_dir")),
            concurrency=values.get("concurrency") or 16,
            targets=parse_filter(values.get("targets")),
            repeat=values.get("repeat"),
            budget=values.get("budget"),
            timeout=values.get("timeout"),
            max_retries=values.get("max_retries", 4),
            retry_time=values.get("retry_time") or 120.0,
            estimate=bool(values.get("estimate")),
            report=values.get("report", True),
            prices=path(values.get("prices")),
            save_baseline=path(values.get("save_baseline")),
            # git:REF:PATH is read with git show at that ref, never a path under rootdir.
            baseline=(
                Path(values["baseline"])
                if str(values.get("baseline") or "").startswith("git:")
                else path(values.get("baseline"))
            ),
            gate_md=path(values.get("gate_md")),
            gate=values.get("gate") or "off",
            suite_dirs=tuple(
                d.strip() for d in str(values.get("suite_dirs") or "evals").split(",") if d.strip()
            ),
            worker=values.get("worker") or "auto",
            shard=values.get("shard"),
            log_prompts=bool(values.get("log_prompts")),
            judge=values.get("judge") or None,
        )
