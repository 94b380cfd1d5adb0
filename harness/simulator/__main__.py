"""``python -m harness.simulator``: see harness.simulator.cli."""

import sys

from harness.simulator.cli import main

sys.exit(main())
