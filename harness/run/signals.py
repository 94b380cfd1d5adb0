"""Interrupts: SIGTERM handled like Ctrl-C, no new call after either, and the
``llm-harness run`` wrapper forwarding signals to pytest and waiting for it.

CI cancellation sends SIGTERM; by default it kills Python on the spot, so no summary, report
or exports are written. Raising KeyboardInterrupt instead lets pytest end the session as it
does for Ctrl-C (exit status 2), with the harness writing everything for the cells that
finished. ``HALT_SIGNAL`` is how pytest's process tells the worker process to stop issuing
calls at once (the worker ignores SIGINT so that pytest decides when it ends).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

#: Sent by pytest's process to the worker process on an interrupt: start no new call.
HALT_SIGNAL = signal.SIGUSR1


def sigterm_as_interrupt() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in the main thread, unless someone else
    already handles SIGTERM (then theirs stays)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: Any) -> None:
        # Once: a second SIGTERM while the partial results are written must not cut that
        # short; a third... is what SIGKILL is for.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)


def main_thread_only() -> None:
    """Called first in every thread the harness starts: SIGINT and SIGTERM then always reach
    the main thread, whose waits they interrupt at once. Delivered to a helper thread, they
    would wait until the main thread next ran (a cell's whole call), while calls went on."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def on_halt(halt: Callable[[], None]) -> None:
    """In the worker process: call ``halt`` when pytest's process says so."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(HALT_SIGNAL, lambda signum, frame: halt())


def halt_process(pid: int) -> None:
    with contextlib.suppress(OSError):  # it has exited already
        os.kill(pid, HALT_SIGNAL)


def run_forwarding(cmd: Sequence[str]) -> int:
    """Run ``cmd`` and return its exit status; SIGINT and SIGTERM sent to this process are
    passed on to it, and this process waits for it to finish writing (never kills it).

    A Ctrl-C at a terminal reaches the whole foreground process group, the child included:
    forwarding that one would interrupt the child twice. Signals are therefore taken with
    sigwaitinfo, which says who sent them: one from the kernel (the terminal) is not
    forwarded, one sent by a process (``kill``, a CI runner) is.
    """
    watched = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        child = subprocess.Popen(
            list(cmd), preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)
        )
        while True:
            try:
                return _status(child.wait(timeout=0.2))
            except subprocess.TimeoutExpired:
                pass
            info = signal.sigtimedwait(watched, 0)
            while info is not None:
                if info.si_pid != 0 and info.si_pid != child.pid:
                    child.send_signal(info.si_signo)
                info = signal.sigtimedwait(watched, 0)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)


def _status(code: int) -> int:
    # A child killed by a signal: the shell's convention, 128 + the signal number.
    return 128 - code if code < 0 else code
