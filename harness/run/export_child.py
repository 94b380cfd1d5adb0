"""The short-lived child process that writes a run's results.csv and results.parquet.

Why a child: pyarrow costs ~45 MB the moment it is imported, and a process never gives its
modules back. Started after the worker process has exited and before the report is drawn,
the child's memory comes and goes on its own, so the run's peak is pytest's process plus
the larger of the two, not both. It reads results.jsonl, which is complete on disk by the
end of the run (every record is written as its cell is reported), with
harness.report.exports.main.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness.run.worker.client import start_python_child

__all__ = ["ExportFailed", "ExportProcess", "start_export"]


class ExportFailed(Exception):
    """The export child did not write the files."""


class ExportProcess:
    """The child writing a run's exports (``start_export``)."""

    def __init__(self, proc: subprocess.Popen[bytes], out_dir: Path) -> None:
        self._proc = proc
        self.out_dir = out_dir

    def wait(self, timeout: float | None = None) -> tuple[dict[str, Path], list[str]]:
        """(file name -> path, notes to log) once the child is done. Raises ExportFailed
        when it failed (with the last line it wrote) or was still running at ``timeout``
        (it is killed then)."""
        try:
            out, err = self._proc.communicate(timeout=timeout)
        except BaseException as exc:  # a timeout, or Ctrl-C while waiting: no orphan child
            self._proc.kill()
            self._proc.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise ExportFailed(f"the export process took over {timeout:g} s") from None
            raise
        if self._proc.returncode != 0:
            said = err.decode("utf-8", "replace").strip().splitlines()
            raise ExportFailed(
                f"the export process failed (exit status {self._proc.returncode}): "
                f"{said[-1] if said else 'no message'}"
            )
        done = json.loads(out.decode("utf-8"))
        return {name: self.out_dir / name for name in done["files"]}, list(done["notes"])


def start_export(out_dir: Path) -> ExportProcess:
    """Start the child that writes ``out_dir``'s exports from its results.jsonl. Raises
    OSError when no process can be started (the caller then writes them itself)."""
    proc = start_python_child(
        "harness.report.exports",
        str(out_dir),
        stdin=subprocess.DEVNULL,
        # Arrow's own allocator keeps what it freed; the system one gives it back between
        # batches (81 -> 77 MB peak for 5000 rows, same time).
        env={"ARROW_DEFAULT_MEMORY_POOL": "system"},
    )
    return ExportProcess(proc, Path(out_dir))
