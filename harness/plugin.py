"""pytest entry point (pytest11): wires pytest to the harness pipeline."""
