"""The statements every sale runs, sent by the database driver itself.

SQLAlchemy declares the tables, builds every statement and compiles it for the dialect; most of
the backend also runs its statements through it. On the paths every sale takes (an order created,
a payment handed to a reader, a webhook stored and applied, a capture, the live order view),
SQLAlchemy's work around each statement (the compiled cache lookup, the execution context, the
parameter and result processing, the hop into a greenlet and back, the pool checkout of each
transaction) cost more than the statement itself: on PostgreSQL 270 µs a statement against 100 µs
for the driver alone, 870 µs against 290 µs for a one-statement transaction (measured with
asyncpg on the benchmark machine, docs/benchmarks.md round nine).

So here a statement is compiled by SQLAlchemy once per dialect and shape (the parameter names,
the length of each expanding IN list, the number of rows of a multi-row INSERT), with its type
processors taken from SQLAlchemy too, and then run on the driver's own connection: asyncpg's
prepared statements on PostgreSQL, the sqlite3 connection itself, on the event loop's thread, on
SQLite (see `Lane`). The values stored and read back are the ones SQLAlchemy would store and
read: the same SQL, the same bind and result processors, connections set up by the same engine.
Driver errors come out as SQLAlchemy's (`IntegrityError`, `OperationalError`), so callers and the
busy handler see no difference.

The connections ("lanes") are checked out of the engine's pool once and kept; a transaction takes
a free lane (or waits for one) without the pool's checkout and reset. A lane whose connection
broke, or whose work was cancelled mid-statement, is given back to the pool as invalid and a new
one is checked out when needed.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import operator
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import Table, bindparam, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement, Insert, Update
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.util import find_tables

from countertop.backend.store.sqlite_driver import (
    run_statement,
    run_statements,
    sqlite3_connection,
)

log = logging.getLogger("countertop.store")
Params = Mapping[str, Any]
Processor = Callable[[Any], Any]
_MAX_PLANS = 1024
_T = TypeVar("_T")
SQLITE_BUSY_TIMEOUT = 10.0  # seconds a SQLite write waits for the lock, as the engine's own
CHECKPOINT_EVERY = 200  # SQLite transactions written by the lanes between two checkpoints
_STATUS_COUNT = re.compile(r"(\d+)$")
_PLACEHOLDER = re.compile(r"\$(\d+)")
_WRITE_SQL = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class Row(tuple[Any, ...]):
    """A result row: by position, by column name as an attribute, and as `_mapping`."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))


def _row_type(names: Sequence[str]) -> type[Row]:
    """A Row class with one read-only attribute per column, as a named tuple has."""
    attributes: dict[str, Any] = {"__slots__": (), "_fields": tuple(names)}
    for index, name in enumerate(names):
        if name.startswith("_") or hasattr(tuple, name) or name in attributes:
            raise TypeError(f"column {name!r} cannot be a row attribute")
        attributes[name] = property(operator.itemgetter(index))
    return type("Row", (Row,), attributes)


@dataclass(frozen=True)
class _Slot:
    """Where one positional parameter comes from: `params[key]` (of row `row` of a multi-row
    insert, item `item` of an expanding list), through `process`."""

    key: str
    row: int | None
    item: int | None
    process: Processor | None


@dataclass(frozen=True, eq=False)  # compared and hashed as itself
class Plan:
    """One statement compiled for one dialect and one shape of parameters."""

    statement: ClauseElement  # kept so that its id is never reused while the plan is cached
    sql: str
    slots: tuple[_Slot, ...]
    defaults: dict[str, Any]
    row_type: type[Row] | None
    results: tuple[tuple[int, Processor], ...]
    tables: frozenset[str]  # every table the statement reads or writes
    writes: bool  # an INSERT, UPDATE or DELETE: on SQLite, it takes the database's write lock

    @property
    def returns_rows(self) -> bool:
        return self.row_type is not None

    def arguments(self, params: Params | Sequence[Params]) -> list[Any]:
        values: list[Any] = []
        rows = params if isinstance(params, Sequence) else None
        for slot in self.slots:
            source = cast(Params, params if rows is None or slot.row is None else rows[slot.row])
            value = source[slot.key] if slot.key in source else self.defaults[slot.key]
            if slot.item is not None:
                value = value[slot.item]
            values.append(value if slot.process is None else slot.process(value))
        return values

    def rows(self, raw: Sequence[Any]) -> list[Any]:
        row_type = self.row_type
        assert row_type is not None
        if not self.results:
            return [row_type(r) for r in raw]
        made = []
        for r in raw:
            values = list(r)
            for index, process in self.results:
                values[index] = process(values[index])
            made.append(row_type(values))
        return made


def _result_columns(statement: ClauseElement) -> list[Any] | None:
    if isinstance(statement, UpdateBase):
        columns = list(statement.exported_columns)
        return columns or None
    selected = getattr(statement, "selected_columns", None)
    return list(selected) if selected is not None else None


def expanding_names(statement: ClauseElement, dialect: Dialect) -> frozenset[str]:
    """The statement's expanding bind parameters (`IN` lists), by name."""
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    return frozenset(name for name, bind in compiled.binds.items() if bind.expanding)


def compile_plan(
    statement: ClauseElement,
    dialect: Dialect,
    params: Params | Sequence[Params],
    expanding_keys: frozenset[str] = frozenset(),
) -> Plan:
    """Compile `statement` for `dialect` and parameters shaped like `params` (the lengths of
    the lists given for `expanding_keys`, the keys given to an INSERT, the rows of a list)."""
    rows: Sequence[Params] | None = params if isinstance(params, Sequence) else None
    if rows is not None:
        if not isinstance(statement, Insert) or not rows:
            raise TypeError("a list of parameter sets is for a multi-row INSERT only")
        table = statement.table
        keys = list(rows[0])
        values = [
            {key: bindparam(f"{key}__{n}", type_=table.c[key].type) for key in keys}
            for n in range(len(rows))
        ]
        compiled_statement: ClauseElement = statement.values(values)
        compiled = cast(SQLCompiler, compiled_statement.compile(dialect=dialect))
    else:
        assert isinstance(params, Mapping)
        expanding = {key: len(params[key]) for key in expanding_keys}
        compiled_statement = statement
        if isinstance(statement, Insert):
            compiled_statement = statement.inline()  # no implicit RETURNING of the new key
        if expanding:
            compiled_statement = compiled_statement.params(
                {key: [None] * length for key, length in expanding.items()}
            )
        compiled = cast(
            SQLCompiler,
            compiled_statement.compile(
                dialect=dialect,
                column_keys=list(params) if isinstance(statement, Insert) else None,
                compile_kwargs={"render_postcompile": True} if expanding else {},
            ),
        )
        if getattr(compiled, "insert_prefetch", None):
            raise TypeError("give every column of a direct INSERT (no Python-side defaults)")
    binds = compiled.binds
    slots = []
    for name in compiled.positiontup or ():
        row = item = None
        if rows is not None:  # a column of one row, named `<key>__<row>` above
            key, _, number = name.rpartition("__")
            row, bind = int(number), binds[name]
        elif name in binds:
            key, bind = name, binds[name]
        else:  # one item of an expanding list, which SQLAlchemy names `<key>_<n>` from 1
            key, _, number = name.rpartition("_")
            item, bind = int(number) - 1, binds[key]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        slots.append(_Slot(key, row, item, process))
    defaults = {
        name: bind.effective_value
        for name, bind in binds.items()
        if not bind.expanding and bind.effective_value is not None
    }
    columns = _result_columns(statement)
    row_type = None
    results: list[tuple[int, Processor]] = []
    if columns is not None:
        row_type = _row_type([c.key for c in columns])
        for index, column in enumerate(columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                results.append((index, process))
    tables = frozenset(
        found.name
        for found in find_tables(
            statement, check_columns=True, include_aliases=True, include_joins=True,
            include_selects=True, include_crud=True,
        )
        if isinstance(found, Table)
    )  # fmt: skip
    writes = isinstance(statement, UpdateBase) or bool(_WRITE_SQL.match(compiled.string))
    return Plan(
        statement, compiled.string, tuple(slots), defaults, row_type, tuple(results), tables,
        writes,
    )  # fmt: skip


class Plans:
    """Compiled plans, by statement (its identity) and shape of parameters."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._plans: collections.OrderedDict[tuple[Any, ...], Plan] = collections.OrderedDict()
        self._expanding: dict[int, tuple[ClauseElement, frozenset[str]]] = {}

    def get(self, statement: ClauseElement, params: Params | Sequence[Params]) -> Plan:
        expanding = self._expanding_of(statement)
        shape: tuple[Any, ...]
        if isinstance(params, Sequence):
            shape = (len(params), tuple(params[0]) if params else ())
        elif isinstance(statement, Insert):
            shape = tuple(params)
        else:
            shape = tuple(len(params[name]) for name in sorted(expanding))
        key = (id(statement), shape)
        plan = self._plans.get(key)
        if plan is None or plan.statement is not statement:
            plan = compile_plan(statement, self.dialect, params, expanding)
            self._plans[key] = plan
            if len(self._plans) > _MAX_PLANS:
                self._plans.popitem(last=False)
        return plan

    def _expanding_of(self, statement: ClauseElement) -> frozenset[str]:
        known = self._expanding.get(id(statement))
        if known is None or known[0] is not statement:
            known = (statement, expanding_names(statement, self.dialect))
            self._expanding[id(statement)] = known
            if len(self._expanding) > _MAX_PLANS:
                self._expanding.pop(next(iter(self._expanding)))
        return known[1]


class Result:
    """What the callers use of SQLAlchemy's result: rows and the count of rows written."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


def _translated(error: Exception, sql: str) -> Exception:
    """A driver's error as SQLAlchemy raises it (what callers catch and the busy handler reads)."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError | sqlite3.IntegrityError):
        return IntegrityError(sql, None, error, hide_parameters=True)
    if isinstance(
        error,
        sqlite3.OperationalError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError
        | ConnectionError | OSError,
    ):  # fmt: skip
        return OperationalError(sql, None, error, hide_parameters=True)
    return DBAPIError(sql, None, error, hide_parameters=True)


class Connection:
    """One lane in use: runs statements as `AsyncConnection.execute` would (same arguments).

    In a transaction, `defer` holds back writes whose outcome nobody reads until a statement
    touches one of their tables, or the commit: then they go together, one round trip instead
    of one each (on PostgreSQL as one statement of data-modifying CTEs, on SQLite in one trip to
    the database thread).
    """

    def __init__(self, lane: Lane, *, transaction: bool = False) -> None:
        self._lane = lane
        self.dialect = lane.plans.dialect
        self._defers = transaction
        self._pending: list[tuple[Plan, list[Any]]] = []
        self._pending_tables: set[str] = set()

    async def execute(
        self, statement: ClauseElement, params: Params | Sequence[Params] | None = None
    ) -> Result:
        plan = self._lane.plans.get(statement, {} if params is None else params)
        arguments = plan.arguments({} if params is None else params)
        if self._pending_tables and not self._pending_tables.isdisjoint(plan.tables):
            await self.flush()
        return await self._run(plan, arguments)

    @property
    def joins_write_and_read(self) -> bool:
        """Whether `write_then_read` is one round trip here: on PostgreSQL."""
        return not self._lane.sqlite

    async def write_then_read(
        self, write: ClauseElement, write_params: Params, read: ClauseElement, read_params: Params
    ) -> tuple[int, list[Any]]:
        """A write (an INSERT or UPDATE of one row) and then a read, in one round trip on
        PostgreSQL: the count of rows the write touched, and the read's rows. On PostgreSQL the
        read runs on the statement's snapshot and does not see the write, on SQLite it comes
        after it: so it must read nothing the write changes (the caller knows what it wrote)."""
        if self._lane.sqlite:
            written = await self.execute(write, write_params)
            return written.rowcount, (await self.execute(read, read_params)).all()
        write_plan = self._lane.plans.get(write, write_params)
        read_plan = self._lane.plans.get(read, read_params)
        if write_plan.returns_rows or not write_plan.writes or not read_plan.returns_rows:
            raise TypeError("a write whose rows are not read, then a read")
        touched = write_plan.tables | read_plan.tables
        if self._pending_tables and not self._pending_tables.isdisjoint(touched):
            await self.flush()
        sql = _write_then_read(write_plan, read_plan)
        arguments = [*write_plan.arguments(write_params), *read_plan.arguments(read_params)]
        try:
            records = await self._lane.driver.fetch(sql, *arguments)
        except Exception as error:
            raise self._lane.failed(error, sql) from error
        count = records[0][0] if records else 0
        rows = [
            values[1:] for values in map(tuple, records) if any(v is not None for v in values[1:])
        ]
        return count, read_plan.rows(rows)

    async def defer(
        self, statement: ClauseElement, params: Params | Sequence[Params] | None = None
    ) -> None:
        """A write whose rows, count and errors the caller does not look at: sent with the
        other writes held back, before anything reads or writes its tables, and at the latest
        at the commit (at once outside a transaction). A constraint it breaks is
        raised then, and rolls the whole transaction back."""
        if not self._defers:
            await self.execute(statement, params)
            return
        plan = self._lane.plans.get(statement, {} if params is None else params)
        if plan.returns_rows:
            raise TypeError("a statement whose rows are read cannot wait")
        if not self._pending_tables.isdisjoint(plan.tables):
            await self.flush()  # never two changes to one table in one statement
        self._pending.append((plan, plan.arguments({} if params is None else params)))
        self._pending_tables.update(plan.tables)

    async def flush(self) -> None:
        """Send the writes held back: in one statement on PostgreSQL, in one trip to the
        database thread on SQLite."""
        pending, self._pending = self._pending, []
        self._pending_tables = set()
        if len(pending) == 1:
            await self._run(*pending[0])
        elif pending:
            try:
                await self._lane.run_writes(pending)
            except Exception as error:
                sql = "; ".join(plan.sql for plan, _ in pending)
                raise self._lane.failed(error, sql) from error

    async def _run(self, plan: Plan, arguments: list[Any]) -> Result:
        try:
            return await self._lane.run(plan, arguments)
        except Exception as error:
            raise self._lane.failed(error, plan.sql) from error


class CannotFuse(Exception):
    """A change that `Fused` cannot write as one statement (nothing has been sent)."""


class Fused:
    """PostgreSQL: one change written as one statement, with no transaction around it.

    The first write is the guard: an UPDATE of one row checked against what the caller read
    (its version). Every other write is made to depend on it (`WHERE EXISTS` the guard's row),
    so when the guard finds no row nothing at all is written, and a broken rule anywhere undoes
    the whole statement. A change that reads nothing in between (a payment handed to a reader:
    the attempt, its reader hold and its history) then costs one round trip instead of a
    `BEGIN`, a statement each and a `COMMIT`.
    """

    def __init__(self, lane: Lane) -> None:
        self._lane = lane
        self.dialect = lane.plans.dialect
        self._writes: list[tuple[Plan, list[Any]]] = []
        self._conflicts: dict[str, Exception] = {}
        self._tables: set[str] = set()

    def guard(self, statement: ClauseElement, params: Params) -> None:
        """The UPDATE whose row the rest depends on (`send` counts the rows it found)."""
        if self._writes or not isinstance(statement, Update):
            raise CannotFuse("the guard is an UPDATE, and comes first")
        self._add(statement, params)

    def add(
        self, statement: ClauseElement, params: Params | Sequence[Params], *,
        conflict: Exception | None = None,
    ) -> None:  # fmt: skip
        """A write that depends on the guard; `conflict` is raised instead of the IntegrityError
        of a broken unique rule on the write's table."""
        if not self._writes:
            raise CannotFuse("no guard yet")
        plan = self._add(statement, params)
        if conflict is not None:
            self._conflicts[next(iter(plan.tables))] = conflict

    def _add(self, statement: ClauseElement, params: Params | Sequence[Params]) -> Plan:
        plan = self._lane.plans.get(statement, params)
        if plan.returns_rows or not plan.writes or not self._tables.isdisjoint(plan.tables):
            raise CannotFuse(plan.sql)  # one change to a table, and no rows to read
        self._writes.append((plan, plan.arguments(params)))
        self._tables.update(plan.tables)
        return plan

    async def execute(self, statement: ClauseElement, params: Any = None) -> Result:
        raise CannotFuse("a fused change reads nothing")

    async def send(self) -> bool:
        """Write it all; False when the guard found no row (and nothing was written)."""
        sql = _fused(tuple(plan for plan, _ in self._writes))
        arguments = [value for _, values in self._writes for value in values]
        try:
            found = await self._lane.driver.fetchval(sql, *arguments)
        except asyncpg.UniqueViolationError as error:
            conflict = self._conflicts.get(str(getattr(error, "table_name", "")))
            if conflict is not None and not self._lane.driver.is_closed():
                raise conflict from None
            raise self._lane.failed(error, sql) from error
        except Exception as error:
            raise self._lane.failed(error, sql) from error
        return bool(found)


_VALUES = re.compile(r"^(INSERT INTO .+?\)) VALUES (.+?)( ON CONFLICT .*)?$", re.DOTALL)


def _guarded(sql: str) -> str:
    """A write that happens only if the guard `g` found its row."""
    if sql.startswith("INSERT"):
        parts = _VALUES.match(sql)
        if parts is None:
            raise CannotFuse(sql)
        head, rows, tail = parts.groups()
        return f"{head} SELECT * FROM (VALUES {rows}) AS v WHERE EXISTS (SELECT FROM g){tail or ''}"
    if " RETURNING " in sql:
        raise CannotFuse(sql)
    return sql + (" AND" if " WHERE " in sql else " WHERE") + " EXISTS (SELECT FROM g)"


@functools.lru_cache(maxsize=256)
def _fused(plans: tuple[Plan, ...]) -> str:
    """The guard (an UPDATE, `g`) and the writes that depend on it as one statement, which
    counts the guard's rows."""
    guard, *rest = plans
    parts, offset = [f"g AS ({guard.sql} RETURNING 1)"], len(guard.slots)
    for n, plan in enumerate(rest):
        shifted = _PLACEHOLDER.sub(partial(_shifted, offset), plan.sql)
        parts.append(f"w{n} AS ({_guarded(shifted)})")
        offset += len(plan.slots)
    return "WITH " + ", ".join(parts) + " SELECT count(*) FROM g"


@functools.lru_cache(maxsize=256)
def _write_then_read(write: Plan, read: Plan) -> str:
    """PostgreSQL: the write (`g`), then the read (`r`), as one statement whose rows are the
    count of rows written and each row read (one row of NULLs after the count if none)."""
    shifted = _PLACEHOLDER.sub(partial(_shifted, len(write.slots)), read.sql)
    return (
        f"WITH g AS ({write.sql} RETURNING 1), r AS ({shifted}) "
        "SELECT n.n, r.* FROM (SELECT count(*) AS n FROM g) AS n LEFT JOIN r ON true"
    )


@functools.lru_cache(maxsize=256)
def _together(plans: tuple[Plan, ...]) -> str:
    """PostgreSQL: the plans' writes as one statement, their parameters numbered one after the
    other (`$1`... of the second plan become `$n+1`...)."""
    parts, offset = [], 0
    for n, plan in enumerate(plans):
        parts.append(f"w{n} AS ({_PLACEHOLDER.sub(partial(_shifted, offset), plan.sql)})")
        offset += len(plan.slots)
    return "WITH " + ", ".join(parts) + " SELECT 1"


def _shifted(offset: int, placeholder: re.Match[str]) -> str:
    return f"${int(placeholder.group(1)) + offset}"


class Lane:
    """A connection checked out of the engine's pool for good, and the driver under it.

    On SQLite the statements run on the event loop's own thread, straight on the sqlite3
    connection: a hand-off to the database thread and back cost ten times the statement (78 µs
    of CPU against 7 µs for an indexed read, docs/benchmarks.md round ten). Nothing may then wait
    on the thread for a lock, or the loop would stand still: the lane's connection waits for no
    lock itself (`busy_timeout` 0), the lanes of one instance take turns to write
    (`SqliteWrites`), and a write lock held elsewhere (the engine's other connections, another
    process) is waited for on the loop, retrying the statement that opened the transaction until
    the busy timeout.
    """

    def __init__(
        self, connection: AsyncConnection, driver: Any, plans: Plans, writes: SqliteWrites
    ) -> None:
        self.connection = connection
        self.driver = driver
        self.plans = plans
        self.sqlite = plans.dialect.name == "sqlite"
        self.broken = False
        self._writes = writes
        self._writing = False  # its turn to write (`SqliteWrites.lock`) is taken
        self.inline: sqlite3.Connection | None = None
        if self.sqlite:
            self.inline = sqlite3_connection(driver)
            self.inline.execute("PRAGMA busy_timeout=0")
            self.inline.execute("PRAGMA wal_autocheckpoint=0")  # see `SqliteWrites`

    async def run(self, plan: Plan, arguments: list[Any]) -> Result:
        if self.sqlite:
            work = partial(run_statement, sql=plan.sql, parameters=arguments, many=False)
            _, rowcount, _, raw = await self._on_sqlite(work, plan.writes)
            if plan.returns_rows:
                return Result(plan.rows(raw), len(raw))
            return Result([], rowcount)
        if plan.returns_rows:
            records = await self.driver.fetch(plan.sql, *arguments)
            return Result(plan.rows(records), len(records))
        status = await self.driver.execute(plan.sql, *arguments)
        found = _STATUS_COUNT.search(status or "")
        return Result([], int(found.group(1)) if found else -1)

    async def run_writes(self, writes: list[tuple[Plan, list[Any]]]) -> None:
        """Writes held back (`Connection.flush`): one statement on PostgreSQL, one call into
        sqlite3 on SQLite."""
        if self.sqlite:
            steps = [(plan.sql, arguments) for plan, arguments in writes]
            await self._on_sqlite(partial(run_statements, steps=steps), True)
        else:
            arguments = [value for _, values in writes for value in values]
            await self.driver.execute(_together(tuple(plan for plan, _ in writes)), *arguments)

    async def _on_sqlite(self, work: Callable[[sqlite3.Connection], _T], writes: bool) -> _T:
        """Run `work` on the sqlite3 connection, here on the loop's thread."""
        inline = self.inline
        assert inline is not None
        if writes and not self._writing:
            await self._writes.take_turn()
            self._writing = True
        if inline.in_transaction:  # the lock is held already (or the reads share a snapshot)
            return work(inline)
        # The transaction's first statement, or a read outside one: if the database is busy,
        # nothing has been done yet, so it is undone and tried again after a pause on the loop.
        pause, deadline = 0.0005, asyncio.get_running_loop().time() + SQLITE_BUSY_TIMEOUT
        while True:
            try:
                return work(inline)
            except sqlite3.OperationalError as error:
                if not _sqlite_busy(error) or asyncio.get_running_loop().time() >= deadline:
                    raise
                if inline.in_transaction:  # sqlite3's own BEGIN before the write
                    inline.rollback()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)

    def end_turn(self, committed: bool = False) -> None:
        if self._writing:
            self._writing = False
            self._writes.end_turn(committed)

    async def end(self, transaction: Any, commit: bool) -> None:
        """Commit or roll back (a PostgreSQL transaction object, or SQLite's implicit one)."""
        try:
            if self.inline is not None:
                committed = False
                try:
                    if self.inline.in_transaction:
                        (self.inline.commit if commit else self.inline.rollback)()
                        committed = commit
                finally:
                    self.end_turn(committed)
            else:
                await (transaction.commit() if commit else transaction.rollback())
        except Exception as error:
            raise self.failed(error, "COMMIT" if commit else "ROLLBACK") from error

    def failed(self, error: Exception, sql: str) -> Exception:
        """The driver's error as SQLAlchemy raises it. The lane is not used again unless the
        connection is known to be sound: the error was the statement's own (a broken rule, a
        busy SQLite database) and, on PostgreSQL, the connection is still open."""
        if self.sqlite:
            sound = isinstance(error, sqlite3.IntegrityError | sqlite3.OperationalError)
            self.broken = self.broken or not sound
        else:
            sound = isinstance(error, asyncpg.PostgresError) and not self.driver.is_closed()
            self.broken = self.broken or not sound
        return _translated(error, sql)

    def put_away(self) -> None:
        """Before the lane goes back to the pool: SQLite's usual settings again."""
        if self.inline is not None:
            self.inline.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
            self.inline.execute("PRAGMA wal_autocheckpoint=1000")


class SqliteWrites:
    """The write side of a SQLite database for one instance's lanes.

    The lanes take turns to write: `lock` is held from a transaction's first write to its end.
    The write-ahead log is copied back into the database (a checkpoint, which syncs the file to
    disk) on one of the engine's connections, on its own thread, every `CHECKPOINT_EVERY`
    transactions written, instead of by whichever lane commits when the log passes its size
    limit: a checkpoint took 4-6 ms on the benchmark machine, far more on a slow disk, and would
    have held up the whole event loop.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.lock = asyncio.Lock()
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None

    async def take_turn(self) -> None:
        if not self.lock.locked():  # free: no timer to set up and cancel
            await self.lock.acquire()
            return
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT):
                await self.lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None

    def end_turn(self, committed: bool) -> None:
        self.lock.release()
        if committed:
            self._since_checkpoint += 1
            if self._since_checkpoint >= CHECKPOINT_EVERY and self._checkpoint is None:
                self._since_checkpoint = 0
                self._checkpoint = asyncio.get_running_loop().create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the next one copies what this one did not
            log.warning("SQLite checkpoint failed", exc_info=True)
        finally:
            self._checkpoint = None

    async def close(self) -> None:
        if self._checkpoint is not None:
            await self._checkpoint


def _sqlite_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(error)


class Lanes:
    """A few connections kept for the direct statements; each transaction takes one in turn."""

    def __init__(self, engine: AsyncEngine, size: int, *, timeout: float = 10.0) -> None:
        self.engine = engine
        self.timeout = timeout
        self.plans = Plans(engine.dialect)
        self._free = asyncio.Semaphore(size)
        self._writes = SqliteWrites(engine)  # SQLite only
        self._idle: list[Lane] = []
        self._closing: set[asyncio.Task[None]] = set()

    async def _take(self) -> Lane:
        if not self._free.locked():  # one is free: no timer to set up and cancel
            await self._free.acquire()
        else:
            try:
                async with asyncio.timeout(self.timeout):
                    await self._free.acquire()
            except TimeoutError:
                message = f"no database connection free within {self.timeout:g} s"
                raise PoolTimeout(message) from None
        if self._idle:
            return self._idle.pop()
        try:
            connection = await self.engine.connect()
            try:
                raw = await connection.get_raw_connection()
                return Lane(connection, raw.driver_connection, self.plans, self._writes)
            except BaseException:
                await connection.close()
                raise
        except BaseException:
            self._free.release()
            raise

    def _give_back(self, lane: Lane) -> None:
        if lane.inline is not None:
            try:  # a transaction not ended is never left open, holding SQLite's write lock
                if lane.inline.in_transaction:
                    lane.inline.rollback()
            except sqlite3.Error:
                lane.broken = True
        lane.end_turn()
        if lane.broken:
            task = asyncio.get_running_loop().create_task(_invalidate(lane))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        else:
            self._idle.append(lane)
        self._free.release()

    @asynccontextmanager
    async def _lane(self) -> AsyncIterator[Lane]:
        lane = await self._take()
        try:
            yield lane
        except asyncio.CancelledError:
            # Perhaps cut off mid-statement: not reused. A SQLite statement runs on the loop's
            # thread, never cut off; its transaction is rolled back when the lane is given back.
            lane.broken = lane.broken or lane.inline is None
            raise
        finally:
            self._give_back(lane)

    @asynccontextmanager
    async def _transaction(self, lane: Lane, **options: Any) -> AsyncIterator[Connection]:
        """Committed when the block ends, rolled back if it raises; on SQLite, sqlite3 opens
        the transaction before the first write (as it does for the engine) unless `begin`."""
        transaction = None
        if not lane.sqlite:
            try:
                transaction = lane.driver.transaction(**options)
                await transaction.start()
            except Exception as error:
                raise lane.failed(error, "BEGIN") from error
        elif options.get("begin"):
            try:
                await lane.run(self.plans.get(_BEGIN, {}), [])
            except Exception as error:
                raise lane.failed(error, "BEGIN") from error
        conn = Connection(lane, transaction=True)
        try:
            yield conn
            await conn.flush()
        except BaseException:
            try:
                await lane.end(transaction, commit=False)
            except Exception:
                lane.broken = True  # it will not be reused; the error that ended it is raised
            raise
        await lane.end(transaction, commit=not options.get("readonly"))

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        async with self._lane() as lane, self._transaction(lane) as conn:
            yield conn

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        """Statements with no transaction around them: reads that need not see one state
        together (a write on PostgreSQL commits by itself; on SQLite when the block ends)."""
        async with self._lane() as lane:
            if lane.sqlite:
                async with self._transaction(lane) as conn:
                    yield conn
            else:
                yield Connection(lane)

    @property
    def fuses(self) -> bool:
        """Whether `fused` is available: on PostgreSQL."""
        return self.engine.dialect.name != "sqlite"

    @asynccontextmanager
    async def fused(self) -> AsyncIterator[Fused]:
        """A change written as one statement by `Fused.send` (PostgreSQL only)."""
        if not self.fuses:
            raise CannotFuse("SQLite runs a change as a transaction")
        async with self._lane() as lane:
            yield Fused(lane)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Connection]:
        """Reads that all see one state of the database (see `Database.snapshot`)."""
        async with self._lane() as lane:
            if lane.sqlite:
                async with self._transaction(lane, begin=True, readonly=True) as conn:
                    yield conn
            else:
                options = {"isolation": "repeatable_read", "readonly": True}
                async with self._transaction(lane, **options) as conn:
                    yield conn

    async def close(self) -> None:
        """Give every lane back to the pool (before the engine is disposed)."""
        idle, self._idle = self._idle, []
        for lane in idle:
            lane.put_away()
            await lane.connection.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self._writes.close()


_BEGIN = text("BEGIN")


async def _invalidate(lane: Lane) -> None:
    try:
        await lane.connection.invalidate()
        await lane.connection.close()
    except Exception:  # the connection is gone either way
        log.debug("closing a broken database lane failed", exc_info=True)
