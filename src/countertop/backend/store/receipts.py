"""Receipts sent to customers, kept exactly as sent: the dispute evidence of what they were given.

Rows are only ever inserted. A resend is a new row pointing at the receipt it repeats, so the
original stays as it was; `digest` lets anyone check a body was not altered afterwards.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from countertop.backend.store.base import Base, UtcDateTime


class ReceiptRow(Base):
    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_order_created", "order_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), ForeignKey("orders.id"))
    kind: Mapped[str] = mapped_column(String(8))  # sale | refund
    refund_id: Mapped[str | None] = mapped_column(String(64))
    charge_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # email
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))  # sent | failed
    error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    resent_of: Mapped[str | None] = mapped_column(String(40), ForeignKey("receipts.id"))
    sent_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def intact(self) -> bool:
        return self.digest == body_digest(self.subject, self.body_text, self.body_html)


def body_digest(subject: str, text: str, html: str) -> str:
    h = hashlib.sha256()
    for part in (subject, text, html):
        data = part.encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


async def add(session: AsyncSession, row: ReceiptRow) -> ReceiptRow:
    row.digest = body_digest(row.subject, row.body_text, row.body_html)
    session.add(row)
    await session.flush()
    return row


async def for_order(session: AsyncSession, order_id: str) -> list[ReceiptRow]:
    query = (
        select(ReceiptRow)
        .where(ReceiptRow.order_id == order_id)
        .order_by(ReceiptRow.created_at, ReceiptRow.id)
    )
    return list((await session.execute(query)).scalars())


async def get(session: AsyncSession, order_id: str, receipt_id: str) -> ReceiptRow | None:
    row = await session.get(ReceiptRow, receipt_id)
    return row if row is not None and row.order_id == order_id else None
