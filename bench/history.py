"""A store's trading history, written straight into a benchmark's database before it is measured.

A backend measured on an empty database is measured in a state no store stays in for long, and on
PostgreSQL a misleading one: the server plans each prepared statement for the tables as they are
when it is first run, and keeps that plan until the tables' statistics change (autovacuum's
ANALYZE, which looks at a database once a minute). Planned for empty tables, a lookup by key
reads the whole table, and the tables grow by thousands of rows during a run. A store that has
been trading has tables of many thousands of rows, analyzed by autovacuum long ago.

`write_history` adds `sales` finished sales from the day before, shaped as the backend writes
them (an order paid by one captured attempt, its line item, the nine steps of its history and
the three webhook events its payment sent), then, on PostgreSQL, runs the ANALYZE autovacuum
would have run. SQLite keeps no statistics unless asked, so it gets none.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from countertop.backend.store.db import normalize_url
from countertop.backend.store.payments import (
    AttemptRow,
    LineItemRow,
    OrderRow,
    TransitionRow,
    WebhookEventRow,
)

CHUNK = 2000
AMOUNT = 1000
AUTHORIZATION = "webhook payment_intent.amount_capturable_updated"
STEPS = (  # (entity, from, to, event, cause) of a sale paid at the first tap
    ("order", None, "open", "created", "api:create_order"),
    ("attempt", None, "created", "created", "api:start_payment"),
    ("order", "open", "in_payment", "payment_started", "api:start_payment"),
    ("attempt", "created", "created", "attach_payment_intent", "api:start_payment"),
    ("attempt", "created", "on_reader", "hand_to_reader", "api:start_payment"),
    ("attempt", "on_reader", "authorized", "authorized", AUTHORIZATION),
    ("order", "in_payment", "authorized", "authorized", AUTHORIZATION),
    ("attempt", "authorized", "captured", "captured", "outbox:capture"),
    ("order", "authorized", "paid", "captured", "outbox:capture"),
)
EVENTS = (
    ("terminal.reader.action_succeeded", "reader"),
    ("payment_intent.amount_capturable_updated", "payment_intent"),
    ("payment_intent.succeeded", "payment_intent"),
)


def sale_rows(n: int, location: str, reader: str, at: datetime) -> dict[str, list[dict[str, Any]]]:
    order, attempt, pi = f"ord_hist{n:012d}", f"att_hist{n:012d}", f"pi_hist{n:016d}"
    common = {"currency": "usd", "created_at": at, "updated_at": at}
    objects = {"reader": reader, "payment_intent": pi, "charge": f"ch_hist{n:016d}"}
    created = int(at.timestamp())
    return {
        "orders": [
            {
                **common,
                "id": order,
                "location_id": location,
                "status": "paid",
                "subtotal": AMOUNT,
                "tax": 0,
                "tip": 0,
                "total": AMOUNT,
                "amount_captured": AMOUNT,
                "amount_refunded": 0,
                "card_brand": "visa",
                "card_last4": "4242",
            }
        ],
        "line_items": [
            {
                "order_id": order,
                "position": 0,
                "description": "Amount",
                "quantity": 1,
                "unit_amount": AMOUNT,
            }
        ],
        "attempts": [
            {
                **common,
                "id": attempt,
                "order_id": order,
                "active_order_id": None,
                "payment_intent_id": pi,
                "status": "captured",
                "reader_id": reader,
                "location_id": location,
                "amount": AMOUNT,
                "auto_capture": True,
                "tip": 0,
                "amount_captured": AMOUNT,
                "amount_refunded": 0,
                "process_count": 1,
                "capture_failures": 0,
                "card_brand": "visa",
                "card_last4": "4242",
                "sent_at": at,
                "version": 4,
            }
        ],
        "transitions": [
            {
                "order_id": order,
                "entity": entity if entity == "order" else f"attempt:{attempt}",
                "from_status": before,
                "to_status": after,
                "event": event,
                "cause": cause,
                "at": at,
            }
            for entity, before, after, event, cause in STEPS
        ],
        "webhook_events": [
            {
                "id": f"evt_hist{n:012d}{k}",
                "type": kind,
                "object_id": objects[about],
                "created": created,
                "payload": f'{{"id": "evt_hist{n:012d}{k}", "type": "{kind}"}}',
                "received_at": at,
                "processed_at": at,
            }
            for k, (kind, about) in enumerate(EVENTS)
        ],
    }


TABLES: dict[str, type[Any]] = {
    "orders": OrderRow,
    "line_items": LineItemRow,
    "attempts": AttemptRow,
    "transitions": TransitionRow,
    "webhook_events": WebhookEventRow,
}


async def write_history(url: str, sales: int, location: str, readers: list[str]) -> float:
    """Write `sales` past sales at `location` on `readers`; the seconds it took."""
    began = time.perf_counter()
    engine = create_async_engine(normalize_url(url))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    try:
        for start in range(0, sales, CHUNK):
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
            for n in range(start, min(sales, start + CHUNK)):
                at = yesterday + timedelta(seconds=n * 0.5)
                for name, table_rows in sale_rows(
                    n, location, readers[n % len(readers)], at
                ).items():
                    rows[name].extend(table_rows)
            async with engine.begin() as conn:
                for name, table in TABLES.items():
                    await conn.execute(insert(table), rows[name])
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - began
