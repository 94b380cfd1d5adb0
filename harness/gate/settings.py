"""Gate settings: significance level, minimum effect, tolerances and floors.

Read from ``[tool.llm-harness.gate]`` in pyproject.toml, or from an ``[llm-harness:gate]``
section in pytest.ini, tox.ini or setup.cfg (the first of those files that has one). Settings
in two places are an error rather than a silent precedence, since a forgotten copy would
quietly loosen the gate. ``overrides`` (the compare command's flags) win over the file.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.options import finite_number, option, table, whole_number

PYPROJECT_TABLE = "tool.llm-harness.gate"
INI_SECTION = "llm-harness:gate"
INI_FILES = ("pytest.ini", "tox.ini", "setup.cfg")
CORRECTIONS = ("holm", "none")


def _probability(value: Any, low_open: bool = False) -> float:
    number = finite_number(value)
    if number > 1 or number < 0 or (low_open and number == 0):
        bound = "0 < value <= 1" if low_open else "0 <= value <= 1"
        raise ValueError(f"expected {bound}, got {number:g}")
    return number


def _significance(value: Any) -> float:
    return _probability(value, low_open=True)


def _ratio(value: Any) -> float:
    number = finite_number(value)
    if number < 1:
        raise ValueError(f"expected a ratio >= 1 (1.25 allows +25%), got {number:g}")
    return number


def _non_negative(value: Any) -> float:
    number = finite_number(value)
    if number < 0:
        raise ValueError(f"expected a number >= 0, got {number:g}")
    return number


def _optional_floor(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return _probability(value)


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
    out: dict[str, float] = {}
    for name, rate in value.items():
        try:
            out[str(name)] = _probability(rate)
        except ValueError as exc:
            raise ValueError(f"suite {name!r}: {exc}") from None
    return out


def _correction(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in CORRECTIONS:
        raise ValueError(f"expected one of {', '.join(CORRECTIONS)}, got {value!r}")
    return text


@dataclass(frozen=True)
class GateSettings:
    """The gate's settings; each field but ``source`` is a setting (``harness.options``),
    with the fix its error names."""

    #: Significance level for the paired tests (after the multiple-comparison correction).
    alpha: float = option(
        0.05, _significance, fix="set a significance level such as alpha = 0.05"
    )
    #: Smallest absolute change in a rate (0.05 = 5 points) that can be a verdict.
    min_effect: float = option(
        0.05,
        _probability,
        fix="set an absolute rate change such as min_effect = 0.05 (5 points)",
    )
    #: The smallest latency change that can be a verdict: a significant per-case latency
    #: ratio (geometric mean) above it is a regression, below its inverse an improvement.
    latency_tolerance: float = option(
        1.25,
        _ratio,
        fix="set a ratio such as latency_tolerance = 1.25 (+25% latency allowed)",
    )
    #: Typical-latency shifts of at most this many milliseconds are never a verdict.
    latency_slack_ms: float = option(
        10.0, _non_negative, fix="set milliseconds such as latency_slack_ms = 10"
    )
    #: The smallest cost change that can be a verdict: mean cost per call after / before
    #: above it is a regression when the tokens rose significantly or the prices rose.
    cost_tolerance: float = option(
        1.10,
        _ratio,
        fix="set a ratio such as cost_tolerance = 1.10 (+10% cost per call allowed)",
    )
    #: Absolute floor on every group's pass rate in the current run (None: no floor).
    min_pass_rate: float | None = option(
        None,
        _optional_floor,
        fix="set a rate between 0 and 1 such as min_pass_rate = 0.8",
    )
    #: Per-suite floors, overriding ``min_pass_rate`` for the suites named.
    suite_min_pass_rate: dict[str, float] = option(
        {},
        _suite_floors,
        fix="use a table such as suite_min_pass_rate = {extraction = 0.9}",
    )
    #: Fewer paired cases than this give "not comparable" instead of a verdict.
    min_cases: int = option(
        5,
        # The same whole-number rule (and messages) as the run options'.
        whole_number(1),
        fix="set a whole number such as min_cases = 5",
    )
    #: Multiple-comparison correction across all tests of a comparison (rates, latency, cost).
    correction: str = option(
        "holm", _correction, fix="set correction = 'holm' or correction = 'none'"
    )
    #: Where the settings came from (a file path), for the report; None for defaults.
    source: str | None = None

    def floor_for(self, suite: str) -> float | None:
        return self.suite_min_pass_rate.get(suite, self.min_pass_rate)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Every gate setting, by name, in the order errors list them.
SETTINGS = {o.name: o for o in table(GateSettings)}


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
        setting = SETTINGS.get(key)
        line = _key_line(text, key) if text else None
        if setting is None:
            raise _error(
                where,
                f"unknown gate setting {key!r}",
                f"valid settings: {', '.join(SETTINGS)}; rename or remove {key!r}",
                line,
            )
        try:
            changes[key] = setting.parse(raw)
        except ValueError as exc:
            raise _error(where, f"gate setting {key!r}: {exc}", setting.fix, line) from None
    return replace(settings, **changes)


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
