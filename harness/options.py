"""One scheme for options, shared by the run's Settings (harness/config.py) and the gate's
GateSettings (harness/gate/settings.py).

An option is declared once, as a field of its settings dataclass: ``option(default, parse,
...)`` puts an ``Option`` record (parser, help, environment variable, fix) in the field's
metadata, and ``table(cls)`` reads the records back in field order. So the field, its type,
its default and how its raw value is read and checked stand in one place, and adding an
option is adding one field.

A parser takes raw text (command line, ini file, environment) or a value from TOML and
returns the value or raises ValueError with a message that says what was expected and what
was given; each front door adds where the value came from (``--llm-budget:``,
``pyproject.toml:12:``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The metadata key under which a settings field keeps its Option.
_KEY = "harness.option"


@dataclasses.dataclass(frozen=True)
class Option:
    """How one settings field is given and checked. ``name`` is the field's name."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str = ""
    env: str | None = None
    metavar: str | None = None
    #: A store_true switch on the command line.
    flag: bool = False
    #: A file or folder: a relative one is resolved against where it was written.
    path: bool = False
    #: ``git:REF:PATH`` (a committed file) is accepted and kept as written, never a path.
    git_ref: bool = False
    #: The fix an error names (the gate's settings file); the run options name their flag.
    fix: str = ""

    @property
    def cli(self) -> str:
        return "--llm-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "llm_" + self.name

    def as_path(self, value: Any, base: Path) -> Any:
        """A path option's value, made absolute against ``base`` (``~`` expanded); empty is
        None, and ``git:REF:PATH`` stays as written where the option takes one."""
        if not self.path:
            return value
        if value in (None, ""):
            return None
        if self.git_ref and str(value).startswith("git:"):
            return Path(value)
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p


def option(default: Any, parse: Callable[[Any], Any], help: str = "", **spec: Any) -> Any:
    """A settings dataclass field that is an option (``spec``: Option's other fields)."""
    record = Option("", parse, default, help, **spec)
    if isinstance(default, dict):  # each instance gets its own copy
        return dataclasses.field(default_factory=default.copy, metadata={_KEY: record})
    return dataclasses.field(default=default, metadata={_KEY: record})


def table(cls: type) -> tuple[Option, ...]:
    """The options of a settings dataclass, in field order, each named after its field."""
    return tuple(
        dataclasses.replace(f.metadata[_KEY], name=f.name)
        for f in dataclasses.fields(cls)
        if _KEY in f.metadata
    )


# ---- parsers ---------------------------------------------------------------------------


def whole_number(minimum: int) -> Callable[[Any], int]:
    """A parser of whole numbers >= ``minimum`` (text, or a number from TOML; never a bool)."""

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


def number(value: Any) -> float:
    """Any number, as text or from TOML (never a bool); inf and nan pass, see the others."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None


def finite_number(value: Any) -> float:
    """A finite number."""
    result = number(value)
    if not math.isfinite(result):
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


def positive_number(value: Any) -> float:
    """A finite number > 0 (a time, a budget)."""
    result = number(value)
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"expected a number > 0, got {value}")
    return result


def choice(what: str, valid: tuple[str, ...]) -> Callable[[str], str]:
    """A parser of one of ``valid`` (case-insensitive), naming ``what`` when it is not."""

    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in valid:
            raise ValueError(f"invalid {what} {text!r}; valid modes: {', '.join(valid)}")
        return value

    return parse


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def text(value: str) -> str:
    return value


def comma_list(value: str) -> tuple[str, ...]:
    """``"a, b,"`` -> ("a", "b")."""
    return tuple(part.strip() for part in value.split(",") if part.strip())
