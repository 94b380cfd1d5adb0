"""Gate settings: significance level, minimum effect, tolerances and floors.

Read from ``[tool.llm-harness.gate]`` in pyproject.toml, or from an ``[llm-harness:gate]``
section in pytest.ini, tox.ini or setup.cfg (the first of those files that has one). Settings
in two places are an error rather than a silent precedence, since a forgotten copy would
quietly loosen the gate. ``overrides`` (the compare command's flags) win over the file.
"""

from __future__ import annotations

import configparser
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.config import whole_number
from harness.errors import ConfigError

PYPROJECT_TABLE = "tool.llm-harness.gate"
INI_SECTION = "llm-harness:gate"
INI_FILES = ("pytest.ini", "tox.ini", "setup.cfg")
CORRECTIONS = ("holm", "none")


@dataclass(frozen=True)
class GateSettings:
    #: Significance level for the paired tests (after the multiple-comparison correction).
    alpha: float = 0.05
    #: Smallest absolute change in a rate (0.05 = 5 points) that can be a verdict.
    min_effect: float = 0.05
    #: The smallest latency change that can be a verdict: a significant per-case latency
    #: ratio (geometric mean) above it is a regression, below its inverse an improvement.
    latency_tolerance: float = 1.25
    #: Typical-latency shifts of at most this many milliseconds are never a verdict.
    latency_slack_ms: float = 10.0
    #: The smallest cost change that can be a verdict: mean cost per call after / before
    #: above it is a regression when the tokens rose significantly or the prices rose.
    cost_tolerance: float = 1.10
    #: Absolute floor on every group's pass rate in the current run (None: no floor).
    min_pass_rate: float | None = None
    #: Per-suite floors, overriding ``min_pass_rate`` for the suites named.
    suite_min_pass_rate: dict[str, float] = field(default_factory=dict)
    #: Fewer paired cases than this give "not comparable" instead of a verdict.
    min_cases: int = 5
    #: Multiple-comparison correction across all tests of a comparison (rates, latency, cost).
    correction: str = "holm"
    #: Where the settings came from (a file path), for the report; None for defaults.
    source: str | None = None

    def floor_for(self, suite: str) -> float | None:
        return self.suite_min_pass_rate.get(suite, self.min_pass_rate)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _number(text: Any) -> float:
    if isinstance(text, bool):
        raise ValueError(f"expected a number, got {text!r}")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text!r}")
    return value


def _probability(low_open: bool) -> Callable[[Any], float]:
    def parse(text: Any) -> float:
        value = _number(text)
        if value > 1 or value < 0 or (low_open and value == 0):
            bound = "0 < value <= 1" if low_open else "0 <= value <= 1"
            raise ValueError(f"expected {bound}, got {value:g}")
        return value

    return parse


def _ratio(text: Any) -> float:
    value = _number(text)
    if value < 1:
        raise ValueError(f"expected a ratio >= 1 (1.25 allows +25%), got {value:g}")
    return value


def _non_negative(text: Any) -> float:
    value = _number(text)
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {value:g}")
    return value


#: The same whole-number rule (and messages) as the run options'.
_count = whole_number(1)


def _optional_floor(text: Any) -> float | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "none")):
        return None
    return _probability(False)(text)


def _suite_floors(value: Any) -> dict[str, float]:
    """A table ``{suite = rate}``, or in ini ``suite = rate`` pairs split by commas/lines."""
    if isinstance(value, str):
        pairs: dict[str, Any] = {}
        for part in re.split(r"[,\n]", value):
            if not part.strip():
                continue
            name, sep, rate = part.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"expected 'suite = rate' pairs, got {part.strip()!r}")
            pairs[name.strip()] = rate.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a table of suite = rate, got {value!r}")
    parse = _probability(False)
    out: dict[str, float] = {}
    for name, rate in value.items():
        try:
            out[str(name)] = parse(rate)
        except ValueError as exc:
            raise ValueError(f"suite {name!r}: {exc}") from None
    return out


def _correction(text: Any) -> str:
    value = str(text).strip().lower()
    if value not in CORRECTIONS:
        raise ValueError(f"expected one of {', '.join(CORRECTIONS)}, got {text!r}")
    return value


PARSERS: dict[str, Callable[[Any], Any]] = {
    "alpha": _probability(True),
    "min_effect": _probability(False),
    "latency_tolerance": _ratio,
    "latency_slack_ms": _non_negative,
    "cost_tolerance": _ratio,
    "min_pass_rate": _optional_floor,
    "suite_min_pass_rate": _suite_floors,
    "min_cases": _count,
    "correction": _correction,
}


def _error(path: Path | str, problem: str, fix: str, line: int | None = None) -> ConfigError:
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {problem}\n  fix: {fix}")


def _key_line(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*[=:]")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def _from_pyproject(path: Path) -> dict[str, Any] | None:
    text = path.read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(path, f"not valid TOML ({exc})", "correct the TOML syntax") from None
    tool = data.get("tool", {})
    table = tool.get("llm-harness", {}) if isinstance(tool, dict) else {}
    gate = table.get("gate") if isinstance(table, dict) else None
    if gate is None:
        return None
    if not isinstance(gate, dict):
        raise _error(
            path,
            f"[{PYPROJECT_TABLE}] must be a table",
            f"write the settings as key = value lines under [{PYPROJECT_TABLE}]",
            _key_line(text, "gate"),
        )
    return gate


def _from_ini(path: Path) -> dict[str, Any] | None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep suite names' case
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise _error(path, f"not a valid ini file ({exc})", "correct the ini syntax") from None
    if not parser.has_section(INI_SECTION):
        return None
    return dict(parser.items(INI_SECTION))


def _read(rootdir: Path) -> tuple[Path, dict[str, Any]] | None:
    found: list[tuple[Path, dict[str, Any]]] = []
    pyproject = rootdir / "pyproject.toml"
    if pyproject.is_file():
        table = _from_pyproject(pyproject)
        if table is not None:
            found.append((pyproject, table))
    for name in INI_FILES:
        path = rootdir / name
        if path.is_file():
            section = _from_ini(path)
            if section is not None:
                found.append((path, section))
    if len(found) > 1:
        names = " and ".join(str(p) for p, _ in found)
        raise _error(
            found[1][0],
            f"gate settings are defined in both {names}",
            f"keep one: [{PYPROJECT_TABLE}] in pyproject.toml or [{INI_SECTION}] in one ini file",
        )
    return found[0] if found else None


def _apply(
    settings: GateSettings, values: Mapping[str, Any], where: Path | str, text: str
) -> GateSettings:
    changes: dict[str, Any] = {}
    for key, raw in values.items():
        parse = PARSERS.get(key)
        line = _key_line(text, key) if text else None
        if parse is None:
            raise _error(
                where,
                f"unknown gate setting {key!r}",
                f"valid settings: {', '.join(PARSERS)}; rename or remove {key!r}",
                line,
            )
        try:
            changes[key] = parse(raw)
        except ValueError as exc:
            raise _error(where, f"gate setting {key!r}: {exc}", _FIXES[key], line) from None
    return replace(settings, **changes)


_FIXES = {
    "alpha": "set a significance level such as alpha = 0.05",
    "min_effect": "set an absolute rate change such as min_effect = 0.05 (5 points)",
    "latency_tolerance": "set a ratio such as latency_tolerance = 1.25 (+25% latency allowed)",
    "latency_slack_ms": "set milliseconds such as latency_slack_ms = 10",
    "cost_tolerance": "set a ratio such as cost_tolerance = 1.10 (+10% cost per call allowed)",
    "min_pass_rate": "set a rate between 0 and 1 such as min_pass_rate = 0.8",
    "suite_min_pass_rate": "use a table such as suite_min_pass_rate = {extraction = 0.9}",
    "min_cases": "set a whole number such as min_cases = 5",
    "correction": "set correction = 'holm' or correction = 'none'",
}


def load_gate_settings(rootdir: Path, overrides: Mapping[str, Any] | None = None) -> GateSettings:
    """Settings from rootdir's pyproject.toml or ini file, then ``overrides`` on top."""
    settings = GateSettings()
    found = _read(Path(rootdir))
    if found is not None:
        path, values = found
        settings = _apply(settings, values, path, path.read_text("utf-8"))
        settings = replace(settings, source=str(path))
    if overrides:
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = _apply(settings, given, "command line", "")
    return settings
