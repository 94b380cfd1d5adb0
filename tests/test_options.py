"""harness.options: the one option scheme of the run settings and the gate settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.config import OPTIONS, Settings
from harness.gate.settings import SETTINGS, GateSettings
from harness.options import finite_number, option, positive_number, table, whole_number


def test_every_settings_field_is_an_option_in_field_order() -> None:
    names = [f.name for f in dataclasses.fields(Settings) if f.name not in ("rootdir", "extra")]
    assert [o.name for o in OPTIONS] == names
    assert OPTIONS[0].cli == "--llm-out" and OPTIONS[0].ini == "llm_out"
    gate = [f.name for f in dataclasses.fields(GateSettings) if f.name != "source"]
    assert list(SETTINGS) == gate and all(o.fix for o in SETTINGS.values())


def test_a_declared_field_is_one_change() -> None:
    @dataclasses.dataclass(frozen=True)
    class Demo:
        plain: int = 0
        limit: int = option(3, whole_number(1), "how many", env="DEMO_LIMIT")
        floors: dict[str, float] = option({}, dict, fix="a table")

    (limit, floors) = table(Demo)
    assert (limit.name, limit.default, limit.env, limit.help) == ("limit", 3, "DEMO_LIMIT", "how many")
    assert Demo().limit == 3 and floors.fix == "a table"
    a, b = Demo(), Demo()
    a.floors["x"] = 1.0
    assert b.floors == {}  # a dict default is copied per instance


def test_build_fills_defaults_and_resolves_paths(tmp_path: Path) -> None:
    s = Settings.build(tmp_path, {"out": "runs/x", "baseline": "git:main:b.json",
                                  "targets": ("openai:*",), "prices": ""})
    assert s.out == tmp_path / "runs/x"
    assert s.baseline == Path("git:main:b.json")  # a committed file, not a path under rootdir
    assert s.prices is None and s.targets == ("openai:*",)
    assert (s.concurrency, s.max_retries, s.suite_dirs, s.report) == (16, 4, ("evals",), True)
    assert Settings.build(tmp_path, {}) == Settings(rootdir=tmp_path)


def test_git_ref_only_where_the_option_takes_one(tmp_path: Path) -> None:
    out = next(o for o in OPTIONS if o.name == "out")
    assert out.as_path("git:x", tmp_path) == tmp_path / "git:x"
    assert next(o for o in OPTIONS if o.name == "concurrency").as_path("8", tmp_path) == "8"


def test_comma_lists() -> None:
    by_name = {o.name: o for o in OPTIONS}
    assert by_name["targets"].parse("openai:*, local:* ,") == ("openai:*", "local:*")
    assert by_name["suite_dirs"].parse("evals,more") == ("evals", "more")


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (positive_number, "nan", "expected a number > 0, got nan"),
        (positive_number, "x", "expected a number, got 'x'"),
        (positive_number, "0", "expected a number > 0, got 0"),
        (finite_number, "inf", "expected a finite number, got 'inf'"),
        (finite_number, True, "expected a number, got True"),
        (whole_number(1), "0", "expected a number >= 1, got 0"),
        (whole_number(0), "1.5", "expected a whole number, got '1.5'"),
    ],
)
def test_parser_messages(parse: object, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(value)  # type: ignore[operator]
