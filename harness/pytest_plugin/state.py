"""What the plugin's modules share: the run's session, kept in pytest's config stash."""

from __future__ import annotations

import pytest

from harness.run.session import RunSession

SESSION_KEY = pytest.StashKey[RunSession]()
