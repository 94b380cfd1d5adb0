"""The worker process's side of harness.worker: the loop that takes cells and calls from
pytest's process, runs them through the same RunSession and Runner, and replies.

Started by WorkerClient with ``python -c`` (see harness.worker._BOOTSTRAP); the protocol and
why the worker exists are described in harness.worker.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from harness.cache import CacheMode

if TYPE_CHECKING:
    from harness.session import RunSession
    from harness.store import RunStore

log = logging.getLogger("harness.worker")

#: Cells the worker takes from a batch before it lets replies and other work through.
CHUNK = 64


def _snapshot(session: RunSession) -> tuple[Any, ...] | None:
    runner = session._runner
    if runner is None:
        return None
    p = runner.progress
    return (p.submitted, p.done, p.cache_hits, p.live, p.errors, p.retries, p.spent_usd,
            p.reserved_usd, p.skipped)


def _warm(providers: Iterable[str]) -> None:
    """Import these providers' adapters and SDKs (~0.5 s each) before the first call.

    Done on the main thread, before the cells that need them are submitted: the calls
    cannot start without the SDK, and an import racing other work for the GIL took twice as
    long. Not on the loop thread, where it would stall calls in flight and inflate their
    latency. A provider that cannot load is left for its first call to report, with the fix.
    """
    from harness.providers import provider_info

    for name in sorted(providers):
        try:
            importlib.import_module(provider_info(name).module)
        except Exception as exc:
            log.debug("warming provider %s failed: %s", name, exc)


def _read_requests(source: IO[bytes], events: queue.SimpleQueue[tuple[Any, ...]]) -> None:
    while True:
        try:
            events.put(pickle.load(source))
        except (EOFError, OSError, pickle.UnpicklingError):
            events.put(("close",))
            return


def serve(
    session: RunSession,
    events: queue.SimpleQueue[tuple[Any, ...]],
    out: IO[bytes],
    live: set[str],
) -> None:
    """The worker's main thread: take cells in, look them up, run and score them, reply.

    Calls run on the Runner's loop thread; their completions come back here through
    ``events`` so that scoring (which may itself make a judge call and wait for it) never
    runs on the loop. Large batches are taken CHUNK cells at a time, the rest put back at
    the end of the queue, so the first results go out while later cells are still read.
    """
    from harness.cache import cache_key

    # Cells received and not yet scored, by job. Also keeps them alive while the session
    # caches their requests by id(cell) (session.forget drops both once scored).
    cells: dict[int, Any] = {}
    #: Jobs submitted to the runner and not yet answered: their lookup is done.
    sent: set[int] = set()
    warmed = set(live)

    # Replies of one burst of work go out as one message: the parent's reader then wakes
    # (and takes the GIL from pytest) once per burst, not once per cell.
    replies: list[tuple[str, int, Any]] = []

    def reply(kind: str, job: int, payload: Any) -> None:
        replies.append((kind, job, payload))
        if len(replies) >= CHUNK:  # a long burst still answers as it goes
            send_replies()

    def send_replies() -> None:
        if replies:
            pickle.dump((replies, _snapshot(session)), out, pickle.HIGHEST_PROTOCOL)
            replies.clear()
        out.flush()

    def on_done(kind: str, job_args: tuple[Any, ...]) -> Any:
        return lambda fut: events.put((kind, job_args, fut))

    # Results scored here and not yet recorded: pytest's process says when to write each
    # (as it reports the cell), so a run cut short records what pytest reported, no more.
    scored: dict[int, dict[str, Any]] = {}
    stores: list[RunStore] = []

    def store() -> RunStore:
        if not stores:
            from harness.store import RunStore

            stores.append(RunStore(session.out_dir))
        return stores[0]

    def request_or_fail(job: int, cell: Any) -> Any:
        """The cell's request; None when its prompt does not render (the cell is then
        answered, once, with the error)."""
        try:
            return session.request_for(cell)
        except Exception:
            cells.pop(job)
            reply("fail", job, traceback.format_exc())
            return None

    def take(kind: str, items: list[Any]) -> list[Any]:
        if len(items) > CHUNK:
            events.put((kind, items[CHUNK:]))
        return items[:CHUNK]

    while True:
        message = events.get()
        while True:
            kind = message[0]
            if kind == "close":
                send_replies()
                if stores:
                    stores[0].close()
                return
            if kind == "cells":
                # Known at once, looked up chunk by chunk: a "go" may come for any of them
                # before its lookup chunk's turn (pytest may run cells in another order).
                cells.update(message[1])
                events.put(("lookup", message[1]))
            elif kind == "lookup":
                need_calls = set()
                for job, cell in take("lookup", message[1]):
                    if job not in cells or job in sent or cell.target.provider in live:
                        # Answered or submitted already, or nothing in the cache to find.
                        continue
                    request = request_or_fail(job, cell)
                    if request is None:
                        continue
                    key = cache_key(request, cell.target.settings().base_url)
                    if not session.cache.preload(key) and not cell.target.missing_key():
                        need_calls.add(cell.target.provider)
                need_calls -= warmed
                if need_calls and session.cache.mode is not CacheMode.REPLAY:
                    warmed.update(need_calls)
                    _warm(need_calls)
            elif kind == "go":
                jobs, calls = [], []
                for job, nodeid in take("go", message[1]):
                    cell = cells.get(job)
                    if cell is None:
                        continue  # answered already (its prompt failed to render)
                    request = request_or_fail(job, cell)
                    if request is None:
                        continue
                    jobs.append((job, cell, nodeid))
                    calls.append((cell.target, request))
                sent.update(job for job, _, _ in jobs)
                futures = session.runner.submit_many(calls)
                for job_args, fut in zip(jobs, futures, strict=True):
                    fut.add_done_callback(on_done("scored", job_args))
            elif kind == "scored":
                (job, cell, nodeid), fut = message[1], message[2]
                outcome = fut.result()
                cells.pop(job, None)
                sent.discard(job)
                if outcome.completion is not None and not outcome.cached:
                    # A live answer: scored by pytest's process, which has time while it
                    # waits for calls; this process's one core is busy with the SDKs.
                    reply("cell", job, ("live", outcome))
                else:
                    try:
                        verdict = session.verdict(cell, outcome, nodeid)
                        data = verdict.result.to_dict()
                        scored[job] = data
                        reply("cell", job, ("scored", data, verdict.message))
                    except Exception:
                        reply("fail", job, traceback.format_exc())
                session.forget(cell)
            elif kind == "record":
                for job in message[1]:
                    store().append(scored.pop(job))
            elif kind == "sync":
                reply("synced", message[1], None)
            elif kind == "calls":
                jobs = message[1]
                futures = session.runner.submit_many((t, r) for _, t, r in jobs)
                for (job, _, _), fut in zip(jobs, futures, strict=True):
                    fut.add_done_callback(on_done("outcome", (job,)))
            elif kind == "outcome":
                reply("call", message[1][0], message[2].result())
            elif kind == "stats":
                reply("stats", message[1], session.runner_loop_lag())
            try:
                message = events.get_nowait()
            except queue.Empty:
                break
        send_replies()


def main() -> int:
    # Ctrl-C reaches the whole process group; the parent decides when this process stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    source = sys.stdin.buffer
    kind, settings, run_id, live = pickle.load(source)
    assert kind == "init"
    # Read requests from the start: the parent must never block on a full pipe while this
    # process is still importing.
    events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    threading.Thread(target=_read_requests, args=(source, events), daemon=True).start()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    _warm(live)
    from harness.session import RunSession

    # write=False: the parent records every result; this process only computes them.
    session = RunSession(settings, run_id=run_id, write=False)
    try:
        serve(session, events, out, set(live))
    finally:
        session.close()
        out.close()
        logging.shutdown()
    # Everything is closed and flushed (the cache included); skip the interpreter's own
    # teardown, which the parent would otherwise wait for at the end of every run.
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
