"""On SQLite the direct statements run on the event loop's thread (store/direct.py, `Lane`).

Nothing there may wait on the thread for SQLite's write lock, or the whole backend would stand
still: the lanes of one instance take turns to write, a lock held by another connection is
waited for on the loop (which goes on serving meanwhile), and one held past the busy timeout is
SQLAlchemy's "database is locked" (the backend's 503 busy), with nothing half-written. The
write-ahead log is checkpointed on another thread.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError

from countertop.backend.store import direct
from countertop.backend.store.busy import is_busy
from countertop.backend.store.db import Database
from countertop.backend.store.payments import OrderRow
from tests.backend.test_direct_statements import order


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'lanes.db'}")
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


class Ticker:
    """Counts turns of the event loop while it runs: zero means the loop stood still."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.ticks += 1

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def ids(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return [r.id for r in await conn.execute(select(OrderRow.id).order_by(OrderRow.id))]


async def test_two_lanes_writing_at_once_take_turns(db: Database) -> None:
    first_wrote = asyncio.Event()
    order_of_commits: list[str] = []

    async def first() -> None:
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            first_wrote.set()
            await asyncio.sleep(0.2)  # holds the write lock meanwhile
        order_of_commits.append("ord_1")

    async def second() -> None:
        await first_wrote.wait()
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_2"))
        order_of_commits.append("ord_2")

    with Ticker() as ticker:
        await asyncio.gather(first(), second())
    assert order_of_commits == ["ord_1", "ord_2"]
    assert ticker.ticks >= 10  # the loop went on while the second waited its turn
    assert await ids(db) == ["ord_1", "ord_2"]


async def test_a_write_lock_held_elsewhere_is_waited_for_on_the_loop(db: Database) -> None:
    async with db.engine.begin() as other:  # the engine's own connection, on its thread
        await other.execute(insert(OrderRow), order("ord_1"))
        with Ticker() as ticker:
            writer = asyncio.create_task(_write(db, "ord_2"))
            await asyncio.sleep(0.3)
            assert not writer.done()  # waiting for the lock...
            assert ticker.ticks >= 20  # ...without holding up the loop
    await writer  # the other committed: the write goes through
    assert await ids(db) == ["ord_1", "ord_2"]


async def test_a_lock_held_past_the_busy_timeout_is_busy_and_writes_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct, "SQLITE_BUSY_TIMEOUT", 0.3)
    async with db.engine.begin() as other:
        await other.execute(insert(OrderRow), order("ord_1"))
        with Ticker() as ticker, pytest.raises(OperationalError) as raised:
            await _write(db, "ord_2")
        assert ticker.ticks >= 20
    assert is_busy(raised.value)  # answered 503 busy by the API
    await _write(db, "ord_3")  # the lane is sound and the lock free again
    assert await ids(db) == ["ord_1", "ord_3"]


async def test_a_lane_waiting_its_turn_past_the_busy_timeout_is_busy(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct, "SQLITE_BUSY_TIMEOUT", 0.2)
    release = asyncio.Event()

    async def holder() -> None:
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0.05)
    with pytest.raises(OperationalError) as raised:
        await _write(db, "ord_2")
    assert is_busy(raised.value)
    release.set()
    await task
    await _write(db, "ord_3")
    assert await ids(db) == ["ord_1", "ord_3"]


async def test_a_failed_write_gives_the_lock_back(db: Database) -> None:
    await _write(db, "ord_1")
    with pytest.raises(Exception, match="UNIQUE"):
        await _write(db, "ord_1")
    await asyncio.wait_for(_write(db, "ord_2"), 2)  # not left waiting for a lock never freed
    assert await ids(db) == ["ord_1", "ord_2"]


async def _write(db: Database, order_id: str) -> None:
    async with db.direct.begin() as conn:
        await conn.execute(insert(OrderRow), order(order_id))


async def test_a_transaction_cancelled_mid_way_writes_nothing_and_frees_the_lock(
    db: Database,
) -> None:
    wrote = asyncio.Event()

    async def abandoned() -> None:
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            wrote.set()
            await asyncio.sleep(30)  # the client went away meanwhile

    task = asyncio.create_task(abandoned())
    await wrote.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(_write(db, "ord_2"), 2)
    assert await ids(db) == ["ord_2"]


async def test_the_log_is_copied_into_the_database_every_so_many_transactions(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct, "CHECKPOINT_EVERY", 3)

    def in_the_database_file() -> list[str]:
        """The orders the database file holds by itself, without its write-ahead log."""
        shutil.copy(tmp_path / "lanes.db", tmp_path / "alone.db")
        with sqlite3.connect(tmp_path / "alone.db") as alone:
            try:
                return [r[0] for r in alone.execute("SELECT id FROM orders ORDER BY id")]
            except sqlite3.OperationalError:  # no such table: the schema is in the log too
                return []

    await _write(db, "ord_1")
    await _write(db, "ord_2")
    await asyncio.sleep(0.2)
    assert in_the_database_file() == []  # still only in the log
    await _write(db, "ord_3")
    for _ in range(100):  # the checkpoint runs on a thread of the engine's
        await asyncio.sleep(0.02)
        if in_the_database_file():
            break
    assert in_the_database_file() == ["ord_1", "ord_2", "ord_3"]
