"""The SQLite driver that makes one trip to the database thread per statement behaves, through
SQLAlchemy, as the plain aiosqlite one does: rows, counts, generated keys, constraint errors,
rollbacks and transactions that another connection waits for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from countertop.backend.store.db import Database
from countertop.backend.store.sqlite_driver import OneTripConnection


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with db.engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE)")
        )
    try:
        yield db.engine
    finally:
        await db.dispose()


async def test_the_engine_uses_the_one_trip_connection(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, OneTripConnection)


async def test_rows_counts_and_generated_keys(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert first.lastrowid == 1
        many = await conn.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": "b"}, {"name": "c"}]
        )
        assert many.rowcount == 2
        changed = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert changed.rowcount == 2
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!")]
        one = (await conn.execute(text("SELECT name FROM t WHERE id = 3"))).scalar_one()
        assert one == "c!"
        some = (await conn.execute(text("SELECT id FROM t ORDER BY id"))).fetchmany(2)
        assert [r.id for r in some] == [1, 2]


async def test_a_constraint_error_rolls_the_transaction_back(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
    assert count == 0


async def test_a_writer_waits_for_another_writers_commit(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(text("BEGIN IMMEDIATE"))
        await first.execute(text("INSERT INTO t (name) VALUES ('first')"))
        waiting = asyncio.create_task(
            second.execute(text("INSERT INTO t (name) VALUES ('second')"))
        )
        await asyncio.sleep(0.2)
        assert not waiting.done()  # the database is locked by the first writer; the loop is free
        await first.commit()
        await waiting
        await second.commit()
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["first", "second"]


async def test_one_trip_per_statement_and_one_per_commit(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads and a committed write cost the trips their statements and commit need, no more: the
    pool's rollback of a connection with no transaction open stays on the event loop."""
    trips: list[str] = []
    execute = OneTripConnection._execute

    async def counted(self: OneTripConnection, fn: object, *args: object, **kw: object) -> object:
        trips.append(getattr(fn, "__name__", "") or type(fn).__name__)
        return await execute(self, fn, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(OneTripConnection, "_execute", counted)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    reads = len(trips)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('kept')"))
    writes = len(trips) - reads
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT count(*) FROM t WHERE name = 'kept'"))).scalar()
    assert (reads, writes, kept) == (1, 2, 1)
