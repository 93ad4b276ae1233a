"""The database itself refuses a second PaymentIntent per attempt, a second active attempt per
order, a second hold on a reader and a second copy of a webhook event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from countertop.backend.store.db import Database
from countertop.backend.store.payments import (
    AttemptRow,
    OrderRow,
    ReaderHoldRow,
    WebhookEventRow,
)

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    await database.migrate()  # applying the migrations again is a no-op
    async with database.session() as s, s.begin():
        s.add(
            OrderRow(
                id="ord_1",
                location_id="tml_1",
                currency="usd",
                status="open",
                subtotal=100,
                tax=0,
                tip=0,
                total=100,
                amount_captured=0,
                amount_refunded=0,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    try:
        yield database
    finally:
        await database.dispose()


def attempt(attempt_id: str, **fields: Any) -> AttemptRow:
    values: dict[str, Any] = {
        "id": attempt_id,
        "order_id": "ord_1",
        "status": "created",
        "location_id": "tml_1",
        "amount": 100,
        "currency": "usd",
        "auto_capture": True,
        "tip": 0,
        "amount_captured": 0,
        "amount_refunded": 0,
        "process_count": 0,
        "capture_failures": 0,
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return AttemptRow(**values)


async def add(db: Database, *rows: Any) -> None:
    async with db.session() as s, s.begin():
        s.add_all(rows)


async def test_one_active_attempt_per_order(db: Database) -> None:
    await add(db, attempt("att_1", active_order_id="ord_1"))
    with pytest.raises(IntegrityError):
        await add(db, attempt("att_2", active_order_id="ord_1"))
    # Finished attempts (NULL) do not count.
    await add(db, attempt("att_3", status="canceled"), attempt("att_4", status="canceled"))


async def test_one_attempt_per_payment_intent(db: Database) -> None:
    await add(db, attempt("att_1", payment_intent_id="pi_1"))
    with pytest.raises(IntegrityError):
        await add(db, attempt("att_2", payment_intent_id="pi_1"))


async def test_one_hold_per_reader(db: Database) -> None:
    await add(db, attempt("att_1"), attempt("att_2", status="canceled"))
    await add(
        db, ReaderHoldRow(reader_id="tmr_1", attempt_id="att_1", order_id="ord_1", created_at=NOW)
    )
    with pytest.raises(IntegrityError):
        await add(
            db,
            ReaderHoldRow(reader_id="tmr_1", attempt_id="att_2", order_id="ord_1", created_at=NOW),
        )


async def test_one_row_per_webhook_event(db: Database) -> None:
    def event() -> WebhookEventRow:
        return WebhookEventRow(
            id="evt_1", type="charge.succeeded", created=1, payload="{}", received_at=NOW
        )

    await add(db, event())
    with pytest.raises(IntegrityError):
        await add(db, event())


async def test_a_snapshot_does_not_see_a_change_committed_while_it_reads(db: Database) -> None:
    """An order view is several queries; a payment committed between two of them must not show
    half of itself (the order paid, its attempt not yet captured)."""
    await add(db, attempt("att_1", active_order_id="ord_1", status="authorized"))
    async with db.snapshot() as view:
        order = await view.get(OrderRow, "ord_1")
        assert order is not None and order.status == "open"
        async with db.session() as writer, writer.begin():
            await writer.execute(
                update(AttemptRow).where(AttemptRow.id == "att_1").values(status="captured")
            )
            await writer.execute(
                update(OrderRow).where(OrderRow.id == "ord_1").values(status="paid")
            )
        seen = (await view.execute(select(AttemptRow.status).where(AttemptRow.id == "att_1"))).one()
        assert seen.status == "authorized"
    async with db.snapshot() as later:
        order = await later.get(OrderRow, "ord_1")
        assert order is not None and order.status == "paid"
