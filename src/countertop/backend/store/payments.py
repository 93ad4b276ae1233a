"""Orders, their line items, payment attempts, reader holds and the audit history of transitions.

The rules "one PaymentIntent per attempt", "one active attempt per order" and "one payment per
reader" are unique constraints here, so two tills or two backend instances racing each other are
stopped by the database, not by a check that both could pass.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from countertop.backend.store.base import Base, UtcDateTime


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_location_created", "location_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24), index=True)
    subtotal: Mapped[int] = mapped_column(Integer)
    tax: Mapped[int] = mapped_column(Integer)
    tip: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer)
    amount_captured: Mapped[int] = mapped_column(Integer, default=0)
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    # The client's Idempotency-Key for POST /api/orders, so a repeated request finds the same order.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LineItemRow(Base):
    __tablename__ = "line_items"

    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_amount: Mapped[int] = mapped_column(Integer)


class AttemptRow(Base):
    __tablename__ = "attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    # Set to order_id while the attempt is active, NULL once it is captured or canceled: the
    # unique constraint allows one active attempt per order.
    active_order_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    # At most one PaymentIntent per attempt, and one attempt per PaymentIntent.
    payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    reader_id: Mapped[str | None] = mapped_column(String(64))
    location_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    auto_capture: Mapped[bool] = mapped_column(default=True)
    tip: Mapped[int] = mapped_column(Integer, default=0)
    amount_captured: Mapped[int] = mapped_column(Integer, default=0)
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    process_count: Mapped[int] = mapped_column(Integer, default=0)
    capture_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, str | None] | None] = mapped_column(JSON)
    capture_error: Mapped[dict[str, str | None] | None] = mapped_column(JSON)
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Optimistic concurrency: every write checks and bumps it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReaderHoldRow(Base):
    """A reader taken by an attempt; the primary key makes a second hold on it fail."""

    __tablename__ = "reader_holds"

    reader_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempt_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("attempts.id", ondelete="CASCADE"), unique=True
    )
    order_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TransitionRow(Base):
    """One state change of an order or attempt, with what caused it."""

    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    entity: Mapped[str] = mapped_column(String(48))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    event: Mapped[str] = mapped_column(String(48))
    cause: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookEventRow(Base):
    """Every Stripe event received, stored once (the primary key is Stripe's event id)."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OutboxRow(Base):
    """Durable work committed together with the state change that needs it (e.g. a capture)."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("kind", "attempt_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    attempt_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("attempts.id", ondelete="CASCADE")
    )
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
