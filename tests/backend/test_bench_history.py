"""The benchmark's trading history (bench/history.py) is what the backend itself would have written:
paid orders the backend's own order view reads back whole, and, on PostgreSQL, statistics."""

from __future__ import annotations

from bench.history import write_history
from sqlalchemy import func, select, text

from countertop.backend.services.orders import get_order_view
from countertop.backend.store.db import Database
from countertop.backend.store.payments import TransitionRow, WebhookEventRow


async def test_history_reads_back_as_paid_sales(db: Database, database_url: str) -> None:
    await write_history(database_url, 30, "tml_hist", ["tmr_a", "tmr_b"])

    view = await get_order_view(db, "ord_hist000000000029")
    assert view is not None
    assert (view["status"], view["total"], view["amount_captured"]) == ("paid", 1000, 1000)
    assert view["location"] == "tml_hist"
    [attempt] = view["attempts"]
    assert (attempt["status"], attempt["amount"]) == ("captured", 1000)
    assert attempt["reader"] == "tmr_b"
    async with db.engine.connect() as conn:
        steps = await conn.scalar(select(func.count()).select_from(TransitionRow))
        events = await conn.scalar(select(func.count()).select_from(WebhookEventRow))
        assert (steps, events) == (30 * 9, 30 * 3)
        if db.is_sqlite:
            return
        analyzed = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
                " AND relname IN ('orders', 'attempts', 'transitions', 'webhook_events')"
            )
        )
        assert analyzed == 4
