"""`column IN` a list given as one parameter, written so that its length does not change the SQL.

An expanding `IN` (SQLAlchemy's `bindparam(..., expanding=True)`) becomes `IN ($1, $2, ...)`
with one placeholder per item: a statement per length. On PostgreSQL each of those is prepared
once per connection and kept in asyncpg's cache of 100 statements a connection, so a query
whose list follows the size of a batch (the attempts of a batch of webhooks, the orders of a
live update) prepared a new statement about once a sale under load (a round trip to parse and
plan, and an older statement closed). On PostgreSQL the list is therefore one array parameter,
`column = ANY($1::VARCHAR[])`: one statement for every length. Elsewhere (SQLite) it stays an
expanding `IN`, whose statements sqlite3 prepares in-process.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal


class InList(ColumnElement[Any]):
    """`column IN` the list passed as parameter `name`."""

    __visit_name__ = "in_list"
    # Untyped: a Boolean would be compared with 1 on SQLite (`x IN (...) = 1`), which no index
    # serves.
    type = NullType()
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def in_list(column: Any, name: str) -> InList:
    return InList(column, name)


@compiles(InList)
def _expanding(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(InList, "postgresql")
def _any_array(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)
