"""pytest entry point (pytest11): wires pytest to the harness pipeline. Nothing in harness
imports this package; its modules: options.py (the option group and Settings), items.py
(suite files and cell items), run_hooks.py (HarnessPlugin, the run's hooks), plain_tests.py
(``@pytest.mark.llm`` and the ``llm`` fixtures), state.py (the session's stash key).

- options: one ``llm-harness`` group, every ``--llm-*`` flag with an ``llm_*`` ini twin and
  parsed by harness.config (a bad value is a UsageError naming the valid ones);
- collection: YAML suites under the suite dirs become one CellItem per
  case x target x temperature x repeat, marked with the provider's name; ``--llm-shard K/N``
  then deselects every item outside shard K (harness.run.shard);
- execution: the first cell of a suite submits the calls of all the suite's cells this process
  will run (under xdist: the cells queued on this worker), so calls overlap scoring;
- records: each cell's Result rides on its test report (``report.llm_results``), so under xdist
  the controller receives every result and alone writes results.jsonl and the summary;
- plain tests: ``@pytest.mark.llm(targets=[...], temperatures=[...], repeat=N)`` plus the
  ``llm`` fixture.
"""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.pytest_plugin.items import CellItem, SuiteFile
from harness.pytest_plugin.options import pytest_addoption, settings_from_config
from harness.pytest_plugin.plain_tests import llm, llm_simulator, pytest_generate_tests
from harness.pytest_plugin.run_hooks import HarnessPlugin
from harness.pytest_plugin.state import SESSION_KEY
from harness.run.session import RunSession

# The hooks and fixtures pytest finds on this module (the pytest11 entry point), and the
# names tests reach through it.
__all__ = [
    "SESSION_KEY",
    "CellItem",
    "HarnessPlugin",
    "SuiteFile",
    "llm",
    "llm_simulator",
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm(targets=[...], temperatures=[...], repeat=1): run the test once per "
        "target x temperature x repeat with an `llm` fixture bound to that cell",
    )
    from harness.providers import PROVIDERS

    for info in PROVIDERS.values():
        config.addinivalue_line(
            "markers", f"{info.marker}: cells that call the {info.marker} provider"
        )
    settings = settings_from_config(config)
    if settings.prices is not None:
        # Checked here so a bad price file is one usage error, not a failure in every cell.
        from harness.calls.pricing import load_prices, read_price_file

        try:
            load_prices(read_price_file(settings.prices))
        except ConfigError as exc:
            raise pytest.UsageError(f"--llm-prices: {exc}") from None
    workerinput = getattr(config, "workerinput", None)
    if settings.shard is not None and settings.save_baseline is not None:
        raise pytest.UsageError(
            f"--llm-save-baseline with --llm-shard {settings.shard}: a shard's baseline would "
            "hold only its share of the cells\n  fix: merge the shards' runs and write the "
            "baseline from the merged run: llm-harness report RUN... -o merged/report.html "
            "--save-baseline PATH"
        )
    if settings.baseline is not None and workerinput is None:
        # A missing or broken baseline stops the run before any paid call.
        from harness.gate import load_baseline, load_gate_settings

        try:
            load_baseline(settings.baseline, cwd=settings.rootdir)
            load_gate_settings(settings.rootdir)
        except ConfigError as exc:
            raise pytest.UsageError(f"--llm-baseline: {exc}") from None
    from harness.run.signals import sigterm_as_interrupt

    sigterm_as_interrupt()  # CI cancellation ends the run like Ctrl-C: results written
    run_id = workerinput.get("llm_run_id") if workerinput else None
    session = RunSession(settings, run_id=run_id, write=workerinput is None)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(HarnessPlugin(config, session), "llm-harness-session")
