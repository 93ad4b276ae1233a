"""Reconciliation runs and their results, for the admin API and the daily schedule.

`scheduled_for` is unique: the daily run of a given day is claimed by inserting its row, so when
several instances wake at once only one of them goes on to run it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from countertop.backend.store.base import Base, UtcDateTime


class ReconciliationRow(Base):
    __tablename__ = "reconciliations"
    __table_args__ = (Index("ix_reconciliations_created", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[str | None] = mapped_column(String(10))
    tz: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime())
    end_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fix: Mapped[bool] = mapped_column(Boolean)
    trigger: Mapped[str] = mapped_column(String(16))  # api | schedule
    requested_by: Mapped[str | None] = mapped_column(String(40))
    scheduled_for: Mapped[str | None] = mapped_column(String(10), unique=True)
    status: Mapped[str] = mapped_column(String(12))  # running | done | failed
    discrepancies: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


async def recent(session: AsyncSession, limit: int) -> list[ReconciliationRow]:
    query = (
        select(ReconciliationRow)
        .order_by(ReconciliationRow.created_at.desc(), ReconciliationRow.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())
