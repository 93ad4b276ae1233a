"""SQLite for the async engine, one trip to the database thread per statement.

aiosqlite runs every sqlite3 call on a thread of its own, and SQLAlchemy's aiosqlite adapter makes
four calls per statement (open a cursor, execute, fetch the rows, close the cursor): four hand-offs
between the event loop and that thread, each a queue put, a thread wake-up and a callback back into
the loop. Those hand-offs were a third of the backend's time on SQLite. The connection here is
aiosqlite's own, with a cursor that does the four steps in a single hand-off and keeps the rows
for SQLAlchemy to read; everything else (transactions, the thread, closing) is aiosqlite's,
except that a commit or rollback with no transaction open (the pool rolls back every connection
it takes back) does not go to the thread at all.

Used through `create_async_engine(url, async_creator=...)` (see `store/db.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

Description = tuple[tuple[Any, ...], ...] | None


def run_statement(
    connection: sqlite3.Connection, sql: str, parameters: Any, many: bool
) -> tuple[Description, int, int | None, list[Any]]:
    """On the database thread: execute, fetch everything, close; what the cursor would tell."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def run_statements(connection: sqlite3.Connection, steps: list[tuple[str, Any]]) -> None:
    """On the database thread: execute writes one after the other (nothing to fetch)."""
    cursor = connection.cursor()
    try:
        for sql, parameters in steps:
            cursor.execute(sql, parameters)
    finally:
        cursor.close()


class OneTripCursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor, with one hand-off per statement."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _execute(self, sql: str, parameters: Any, many: bool) -> OneTripCursor:
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.run(
            partial(run_statement, sql=sql, parameters=parameters, many=many)
        )
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        return await self._execute(sql, [] if parameters is None else parameters, False)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        return await self._execute(sql, parameters, True)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection whose cursors make one trip to its thread per statement."""

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def commit(self) -> None:
        if self._conn.in_transaction:  # else there is nothing to commit: no trip to the thread
            await super().commit()

    async def rollback(self) -> None:
        # The pool rolls back every connection it takes back, most of them after a commit or
        # after reads only: with no transaction open there is nothing to do on the thread.
        if self._conn.in_transaction:
            await super().rollback()

    async def run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `work(sqlite3_connection)` on the connection's thread."""
        connection = self._conn
        return await self._execute(work, connection)


def sqlite3_connection(driver: aiosqlite.Connection) -> sqlite3.Connection:
    """The sqlite3 connection under an aiosqlite one, for statements run on the caller's thread
    (the direct lanes, `store/direct.py`; opened with `check_same_thread=False`)."""
    return driver._conn


def connector(database: str, **kwargs: Any) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy: opens a OneTripConnection to `database`."""

    async def create() -> OneTripConnection:
        connection = OneTripConnection(partial(sqlite3.connect, database, **kwargs), 64)
        await connection  # starts its thread and opens the database
        return connection

    return create
