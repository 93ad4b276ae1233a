"""The declarative base every table of the backend is declared on."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a UTC-aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Model = TypeVar("Model", bound=Base)


def detached(model: type[Model], row: Any, prefix: str = "") -> Model:
    """A Core row's columns (named `prefix` + column) as attributes named like `model`'s, to read
    like an object loaded by a session; never added to one. A plain namespace: building a mapped
    object costs several times more, for attributes only read."""
    mapping = row._mapping
    return as_model(model, {key: mapping[prefix + key] for key in column_keys(model)})


def as_model(model: type[Model], values: dict[str, Any]) -> Model:
    """`values` (one per column of `model`) to be read as an object of `model` (see `detached`)."""
    return cast(Model, SimpleNamespace(**values))


@functools.cache
def column_keys(model: type[Base]) -> tuple[str, ...]:
    return tuple(c.key for c in model.__table__.columns)
