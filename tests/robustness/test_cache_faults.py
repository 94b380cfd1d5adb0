"""A cache folder is data that others may have written: damaged, truncated or crafted
content costs a call at most (a miss plus one warning), never a run and never runs code."""

from __future__ import annotations

import os
import pickle
import sqlite3
from pathlib import Path

import pytest
from robustkit import project, run_cli, run_pytest, suite_text

from harness.calls.cache import CacheMode, ResponseCache
from harness.simulator import Simulator
from harness.types import Completion

pytest.importorskip("openai")

CASES = 6


class _Writer:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (os.system, (f"touch {self.marker}",))


def filled(root: Path, sim: Simulator, cases: int = CASES) -> None:
    project(root, {"s.yaml": suite_text(cases=cases)})
    first = run_pytest(root, "--llm-report=false", base_url=sim.base_url("openai"), out="r1")
    assert first.code == 0, first.text
    assert sim.request_count() == cases


def rows(db: Path) -> list[tuple[int, int, str | None]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute("SELECT rowid, mode, filename FROM Cache"))
    finally:
        con.close()


def test_values_are_json_and_random_bytes_are_misses_with_one_warning(tmp_path: Path) -> None:
    with Simulator() as sim:
        filled(tmp_path, sim)
        db = tmp_path / "cache" / "cache.db"
        con = sqlite3.connect(db)
        values = [bytes(v) for (v,) in con.execute("SELECT value FROM Cache")]
        assert all(v.startswith(b"{") for v in values)  # JSON, not a pickle
        ids = [r for (r,) in con.execute("SELECT rowid FROM Cache")][::3]
        with con:
            for rowid in ids:
                con.execute("UPDATE Cache SET value = ? WHERE rowid = ?",
                            (os.urandom(40), rowid))
        con.close()
        sim.reset()
        second = run_pytest(tmp_path, "--llm-report=false", base_url=sim.base_url("openai"),
                            out="r2")
    assert second.code == 0, second.text
    assert sim.request_count() == len(ids)  # only the damaged entries are called again
    assert len(second.records()) == CASES
    assert "Traceback" not in second.text


def test_large_file_backed_values_damaged_are_misses(tmp_path: Path) -> None:
    cache_dir = tmp_path / "c"
    cache = ResponseCache(cache_dir)
    big = Completion(text="x" * 100_000)
    cache.put("k", big, 0.001)
    cache.close()
    ((_, _mode, filename),) = rows(cache_dir / "cache.db")
    assert filename is not None  # stored in its own file
    (cache_dir / filename).write_bytes(os.urandom(5000))
    again = ResponseCache(cache_dir)
    assert again.get("k") is None
    assert len(again.problems) == 1 and "unreadable entry" in again.problems[0]
    assert "verify --repair" in again.problems[0]
    again.close()


@pytest.mark.parametrize("damage", ["truncated", "directory", "garbage"])
def test_a_db_that_cannot_be_used_is_moved_aside_and_the_run_goes_on(
    tmp_path: Path, damage: str
) -> None:
    with Simulator() as sim:
        filled(tmp_path, sim)
        db = tmp_path / "cache" / "cache.db"
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        if damage == "truncated":
            data = db.read_bytes()
            db.write_bytes(data[: len(data) // 2])
        elif damage == "directory":
            db.unlink()
            db.mkdir()
        else:
            db.write_bytes(os.urandom(8192))
        sim.reset()
        second = run_pytest(tmp_path, "--llm-report=false", base_url=sim.base_url("openai"),
                            out="r2")
        third = run_pytest(tmp_path, "--llm-report=false", base_url=sim.base_url("openai"),
                           out="r3")
    assert second.code == 0, second.text
    assert len(second.records()) == CASES
    assert "Traceback" not in second.text
    assert list((tmp_path / "cache").glob("cache.db.damaged-*")), damage
    assert "moved it to cache.db.damaged-" in second.text
    assert third.code == 0
    assert all(r["cached"] for r in third.records())  # the new cache works


def test_a_pickle_row_in_the_db_is_never_loaded(tmp_path: Path) -> None:
    cache_dir = tmp_path / "c"
    cache = ResponseCache(cache_dir)
    cache.put("k", Completion(text="fine"), 0.0)
    cache.close()
    marker = tmp_path / "ran"
    con = sqlite3.connect(cache_dir / "cache.db")
    with con:  # mode 4 is diskcache's pickle mode
        con.execute("UPDATE Cache SET mode = 4, value = ?", (pickle.dumps(_Writer(marker)),))
    con.close()
    again = ResponseCache(cache_dir)
    assert again.get("k") is None
    assert again.verify()["damaged"] == 1
    again.close()
    assert not marker.exists()


def test_a_pickle_in_the_suite_cache_is_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with Simulator() as sim:
        filled(tmp_path, sim)
        suites = tmp_path / "cache" / "suites"
        (entry,) = suites.iterdir()
        assert entry.suffix == ".json"
        entry.write_bytes(pickle.dumps(_Writer(marker)))
        entry.with_suffix(".pickle").write_bytes(pickle.dumps(_Writer(marker)))
        second = run_pytest(tmp_path, "--llm-report=false", base_url=sim.base_url("openai"),
                            out="r2")
    assert second.code == 0, second.text
    assert "6 passed" in second.out
    assert not marker.exists()


def test_a_crafted_db_settings_row_is_refused(tmp_path: Path) -> None:
    cache_dir = tmp_path / "c"
    ResponseCache(cache_dir).close()
    con = sqlite3.connect(cache_dir / "cache.db")
    with con:
        con.execute("UPDATE Settings SET value = 'wal; DROP TABLE x' WHERE key = 'sqlite_journal_mode'")
    con.close()
    again = ResponseCache(cache_dir)
    assert "Settings table" in again.problems[0]
    assert again.get("k") is None
    again.close()


def test_clear_never_deletes_outside_the_cache_folder(tmp_path: Path) -> None:
    cache_dir = tmp_path / "c"
    cache = ResponseCache(cache_dir)
    cache.put("k", Completion(text="fine"), 0.0)
    cache.close()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    con = sqlite3.connect(cache_dir / "cache.db")
    with con:
        con.execute("UPDATE Cache SET filename = ?", (str(victim),))
    con.close()
    done = run_cli(tmp_path, "cache", "clear", "--dir", str(cache_dir))
    assert done.code == 0, done.text
    assert victim.read_text() == "keep me"


def test_cache_commands_on_a_damaged_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "c"
    cache = ResponseCache(cache_dir)
    for i in range(4):
        cache.put(f"k{i}", Completion(text=f"answer {i}"), 0.0)
    cache.close()
    con = sqlite3.connect(cache_dir / "cache.db")
    with con:
        con.execute("UPDATE Cache SET value = ? WHERE rowid IN (1, 3)", (b"\x00garbage",))
    con.close()
    stats = run_cli(tmp_path, "cache", "stats", "--dir", str(cache_dir))
    assert stats.code == 0 and "4 responses" in stats.out
    check = run_cli(tmp_path, "cache", "verify", "--dir", str(cache_dir))
    assert check.code == 1
    assert "2 entries readable, 2 damaged" in check.err
    assert "verify --repair" in check.err
    fixed = run_cli(tmp_path, "cache", "verify", "--repair", "--dir", str(cache_dir))
    assert fixed.code == 0 and "removed 2" in fixed.out
    again = run_cli(tmp_path, "cache", "verify", "--dir", str(cache_dir))
    assert again.code == 0 and "2 entries readable, 0 damaged" in again.out
    # A db that is not a database at all: stats says so, verify --repair replaces it.
    for p in cache_dir.glob("cache.db*"):
        p.unlink()
    (cache_dir / "cache.db").write_bytes(b"not sqlite" * 100)
    stats = run_cli(tmp_path, "cache", "stats", "--dir", str(cache_dir))
    assert stats.code == 1 and "cannot be used" in stats.err and "Traceback" not in stats.err
    fixed = run_cli(tmp_path, "cache", "verify", "--repair", "--dir", str(cache_dir))
    assert fixed.code == 0, fixed.text
    cleared = run_cli(tmp_path, "cache", "clear", "--dir", str(cache_dir))
    assert cleared.code == 0, cleared.text
    assert not list(cache_dir.glob("cache.db.damaged-*"))


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    import concurrent.futures

    with Simulator() as sim:
        project(tmp_path, {"s.yaml": suite_text(cases=20)})
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(
                lambda out: run_pytest(tmp_path, "--llm-report=false",
                                       base_url=sim.base_url("openai"), out=out),
                ["a", "b"],
            ))
        assert all(r.code == 0 for r in runs), [r.text for r in runs]
        sim.reset()
        third = run_pytest(tmp_path, "--llm-report=false", base_url=sim.base_url("openai"),
                           out="c")
    assert third.code == 0
    assert sim.request_count() == 0
    assert len(third.records()) == 20 and all(r["cached"] for r in third.records())


def test_cache_mode_off_opens_nothing(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c", CacheMode.OFF)
    assert cache.get("k") is None and not (tmp_path / "c").exists()
