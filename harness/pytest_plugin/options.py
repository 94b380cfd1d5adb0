"""The ``llm-harness`` option group: every ``--llm-*`` flag with its ``llm_*`` ini twin,
parsed by harness.config (a bad value is a UsageError naming the valid ones), and the run's
Settings built from them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.config import OPTIONS, Option, Settings, resolve_value


def _cli_type(option: Option) -> Any:
    def parse(text: str) -> Any:
        try:
            return option.parse(text)
        except ValueError as exc:
            raise pytest.UsageError(f"{option.cli}: {exc}") from None

    parse.__name__ = option.name
    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm-harness", "LLM evaluation (llm-harness)")
    for opt in OPTIONS:
        if opt.flag:
            group.addoption(opt.cli, dest=opt.ini, action="store_true", default=None, help=opt.help)
        else:
            group.addoption(
                opt.cli,
                dest=opt.ini,
                type=_cli_type(opt),
                default=None,
                metavar=opt.metavar,
                help=opt.help,
            )
        parser.addini(opt.ini, f"{opt.help} (ini twin of {opt.cli})", default=None)


def project_dir(config: pytest.Config) -> Path:
    """The project the run belongs to: the ini file's folder, else where pytest was run.

    Not pytest's rootdir: without an ini file pytest takes the common ancestor of every
    argument that names an existing path, option values included, so an absolute
    ``--llm-cache-dir`` elsewhere moved it (to ``/``) as soon as that folder existed.
    """
    inipath = getattr(config, "inipath", None)
    return Path(inipath).parent if inipath else Path(config.invocation_params.dir)


def settings_from_config(config: pytest.Config) -> Settings:
    """The run's Settings: each option from the command line, the ini file or the
    environment (harness.config.resolve_value), paths resolved where they were written."""
    values: dict[str, Any] = {}
    project = project_dir(config)
    for opt in OPTIONS:
        ini = config.getini(opt.ini)
        cli = config.getoption(opt.ini)
        try:
            value = resolve_value(
                opt, cli=cli, ini=ini if isinstance(ini, str) else None, env=os.environ
            )
        except ValueError as exc:
            source = f"ini {opt.ini}" if ini else f"${opt.env}"
            raise pytest.UsageError(f"{source}: {exc}") from None
        if opt.path:
            # A path typed on the command line or set in the shell is relative to where the
            # command ran; one in the ini file to the ini file's folder.
            from_ini = cli is None and ini not in (None, "")
            value = opt.as_path(value, project if from_ini else Path(config.invocation_params.dir))
        values[opt.name] = value
    return Settings.build(project, values)
