"""Engine, sessions and migrations for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from countertop.backend.store import sqlite_driver
from countertop.backend.store.direct import Lanes

MIGRATIONS = Path(__file__).with_name("migrations")
# Connections each instance keeps for the direct statements (store/direct.py). SQLite writes one
# transaction at a time whatever the number; PostgreSQL runs them side by side.
SQLITE_LANES = 4
POSTGRES_LANES = 8


def normalize_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """Owns the engine; hands out sessions; applies the Alembic migrations."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        # Connections kept for the statements every sale runs (store/direct.py), out of the pool.
        lanes = SQLITE_LANES if self.is_sqlite else POSTGRES_LANES
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:":
                # One trip to the database thread per statement (store/sqlite_driver.py). The
                # backend runs about 130 distinct statements (an IN list of each length is one),
                # more than sqlite3's default cache of 128 prepared statements per connection.
                kwargs["async_creator"] = sqlite_driver.connector(
                    database, timeout=10, check_same_thread=False, cached_statements=512
                )
                # The pool's usual five besides the lanes: a connection opened as overflow
                # starts a thread and is closed again when given back.
                kwargs["pool_size"] = 5 + lanes
            else:
                kwargs["connect_args"] = {"timeout": 10}
        else:
            # No pre-ping: it costs a round trip on every checkout. Connections are recycled
            # after half an hour instead, and a connection found dead fails one request only.
            # Connections are opened once and kept rather than opened and closed as overflow.
            # At most 30 per instance, so three instances (plus the live-status listener of each)
            # stay under PostgreSQL's default max_connections of 100; DATABASE_POOL_SIZE can
            # change it for a server configured for more. The lanes are taken from the pool.
            pool_size = max(int(os.environ.get("DATABASE_POOL_SIZE", "20")), lanes + 2)
            kwargs.update(pool_size=pool_size, max_overflow=10, pool_recycle=1800, pool_timeout=10)
            # Each connection prepares each statement once; the default cache of 100 statements
            # per connection is smaller than the statements the backend runs, so they were
            # prepared again and again. The same for asyncpg's own cache, which the direct
            # statements use.
            kwargs["connect_args"] = {
                "prepared_statement_cache_size": 500,
                "statement_cache_size": 500,
            }
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.direct = Lanes(self.engine, lanes)
        # Statements that need no transaction run outside one on PostgreSQL: no BEGIN and
        # COMMIT or ROLLBACK round trips around them (SQLite reads outside one already).
        self._reader = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection for statements that need no transaction around them (reads that need not
        see one state together). On PostgreSQL each statement commits by itself, a write too; on
        SQLite a write still needs a transaction (`engine.begin()`)."""
        async with self._reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only session whose queries all see one state of the database.

        For views built from several queries (an order with its attempts and history): without
        it, a change committed between two of the queries would show half of itself. SQLite reads
        outside a transaction each see the newest state, so the session opens one; PostgreSQL
        reads in REPEATABLE READ, which takes one snapshot for the whole transaction.
        """
        async with self.sessions() as session:
            if self.is_sqlite:
                await session.execute(text("BEGIN"))
            else:
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (safe to run on every start)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        await self.direct.close()
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several instances may start at once: one migrates, the others wait for it.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727001)")
    command.upgrade(alembic_config(connection), "head")
