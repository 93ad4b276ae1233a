"""Refunds taken in person on a reader (Interac), from the request until Stripe says how it ended.

While a refund is `pending` its reader is held (a `reader_holds` row naming the refunded attempt),
so the reader does one thing at a time and a payment cannot have two refunds waiting for its card.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from countertop.backend.store.base import Base, UtcDateTime


class InPersonRefundRow(Base):
    __tablename__ = "in_person_refunds"
    __table_args__ = (Index("ix_in_person_refunds_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    attempt_id: Mapped[str] = mapped_column(String(40), ForeignKey("attempts.id"))
    location_id: Mapped[str] = mapped_column(String(64))
    reader_id: Mapped[str] = mapped_column(String(64))
    payment_intent_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed | canceled
    refund_id: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
