"""Operators (people or POS devices holding a credential), their locations and browser sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from countertop.backend.store.base import Base, UtcDateTime

ROLES = ("operator", "admin")


class OperatorRow(Base):
    __tablename__ = "operators"
    __table_args__ = (CheckConstraint("role IN ('operator', 'admin')", name="role"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # Seeded operators (the admin and the demo operator from the environment) are found by this.
    seed: Mapped[str | None] = mapped_column(String(32), unique=True)
    credential_lookup: Mapped[str] = mapped_column(String(32), unique=True)
    credential_salt: Mapped[str] = mapped_column(String(64))
    credential_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    locations: Mapped[list[OperatorLocationRow]] = relationship(
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="OperatorLocationRow.location_id",
    )

    @property
    def location_ids(self) -> list[str]:
        return [link.location_id for link in self.locations]


class OperatorLocationRow(Base):
    __tablename__ = "operator_locations"

    operator_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class OperatorSessionRow(Base):
    __tablename__ = "operator_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


@dataclass(frozen=True)
class NewOperator:
    id: str
    name: str
    role: str
    location_ids: Sequence[str]
    credential_lookup: str
    credential_salt: str
    credential_digest: str
    seed: str | None = None


def _with_locations() -> Any:
    return joinedload(OperatorRow.locations)


async def add_operator(s: AsyncSession, new: NewOperator, now: datetime) -> OperatorRow:
    row = OperatorRow(
        id=new.id,
        name=new.name,
        role=new.role,
        seed=new.seed,
        credential_lookup=new.credential_lookup,
        credential_salt=new.credential_salt,
        credential_digest=new.credential_digest,
        created_at=now,
        locations=[OperatorLocationRow(location_id=loc) for loc in sorted(set(new.location_ids))],
    )
    s.add(row)
    await s.flush()
    return row


async def get_operator(s: AsyncSession, operator_id: str) -> OperatorRow | None:
    result = await s.execute(
        select(OperatorRow).where(OperatorRow.id == operator_id).options(_with_locations())
    )
    return result.unique().scalar_one_or_none()


async def operator_by_lookup(s: AsyncSession, lookup: str) -> OperatorRow | None:
    result = await s.execute(
        select(OperatorRow)
        .where(OperatorRow.credential_lookup == lookup)
        .options(_with_locations())
    )
    return result.unique().scalar_one_or_none()


async def operator_by_seed(s: AsyncSession, seed: str) -> OperatorRow | None:
    result = await s.execute(
        select(OperatorRow).where(OperatorRow.seed == seed).options(_with_locations())
    )
    return result.unique().scalar_one_or_none()


async def list_operators(s: AsyncSession) -> list[OperatorRow]:
    result = await s.execute(
        select(OperatorRow)
        .order_by(OperatorRow.created_at, OperatorRow.id)
        .options(_with_locations())
    )
    return list(result.unique().scalars())


def set_locations(row: OperatorRow, location_ids: Sequence[str]) -> None:
    wanted = sorted(set(location_ids))
    if row.location_ids != wanted:
        row.locations = [OperatorLocationRow(location_id=loc) for loc in wanted]


async def delete_operator(s: AsyncSession, operator_id: str) -> bool:
    """Delete the operator with its sessions; False when there was none."""
    await s.execute(delete(OperatorSessionRow).where(OperatorSessionRow.operator_id == operator_id))
    await s.execute(
        delete(OperatorLocationRow).where(OperatorLocationRow.operator_id == operator_id)
    )
    result = await s.execute(delete(OperatorRow).where(OperatorRow.id == operator_id))
    return bool(getattr(result, "rowcount", 0))


async def add_session(
    s: AsyncSession, session_id: str, operator_id: str, now: datetime, lifetime: timedelta
) -> None:
    # Sessions that ran out are removed whenever a new one starts.
    await s.execute(delete(OperatorSessionRow).where(OperatorSessionRow.expires_at <= now))
    s.add(
        OperatorSessionRow(
            id=session_id, operator_id=operator_id, created_at=now, expires_at=now + lifetime
        )
    )


async def operator_for_session(
    s: AsyncSession, session_id: str, now: datetime
) -> OperatorRow | None:
    """The operator a live session belongs to, in one query; None once expired or deleted."""
    result = await s.execute(
        select(OperatorRow)
        .join(OperatorSessionRow, OperatorSessionRow.operator_id == OperatorRow.id)
        .where(OperatorSessionRow.id == session_id, OperatorSessionRow.expires_at > now)
        .options(_with_locations())
    )
    return result.unique().scalar_one_or_none()


async def delete_session(s: AsyncSession, session_id: str) -> None:
    await s.execute(delete(OperatorSessionRow).where(OperatorSessionRow.id == session_id))


def utcnow() -> datetime:
    return datetime.now(UTC)
