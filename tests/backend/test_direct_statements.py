"""Statements run on the driver directly (store/direct.py) store and read what SQLAlchemy does.

Each check writes through one path and reads through the other, on SQLite and PostgreSQL: JSON
(a dict and None), UTC timestamps, booleans, NULLs, expanding IN lists of several lengths,
multi-row inserts with RETURNING, counts of rows written, constraint errors as SQLAlchemy's,
transactions rolled back, snapshots, and connections that are cut off or all in use.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from countertop.backend.services.event_batches import _RETURNING_ID, _insert_events
from countertop.backend.services.records import _UPDATE_ATTEMPT, _UPSERT_JOB, ATTEMPT_BY_ID
from countertop.backend.store.db import Database
from countertop.backend.store.direct import Lanes
from countertop.backend.store.lists import in_list
from countertop.backend.store.payments import (
    AttemptRow,
    OrderRow,
    OutboxRow,
    TransitionRow,
    WebhookEventRow,
)

NOW = datetime(2026, 12, 6, 21, 30, 15, 123456, tzinfo=UTC)


def order(order_id: str) -> dict[str, Any]:
    return {
        "id": order_id, "location_id": "tml_1", "currency": "usd", "status": "open",
        "subtotal": 1000, "tax": 80, "tip": 0, "total": 1080, "amount_captured": 0,
        "amount_refunded": 0, "card_brand": None, "card_last4": None, "idempotency_key": None,
        "created_by": "op_1", "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip


def attempt(attempt_id: str, order_id: str, **changes: Any) -> dict[str, Any]:
    values = {
        "id": attempt_id, "order_id": order_id, "active_order_id": order_id,
        "payment_intent_id": f"pi_{attempt_id}", "status": "on_reader", "reader_id": "tmr_1",
        "location_id": "tml_1", "amount": 1080, "currency": "usd", "auto_capture": True,
        "tip": 0, "amount_captured": 0, "amount_refunded": 0, "process_count": 1,
        "capture_failures": 0, "last_error": {"code": "card_declined", "message": "No",
        "decline_code": "generic_decline"}, "capture_error": None, "card_brand": None,
        "card_last4": None, "sent_at": NOW, "version": 1, "created_at": NOW, "updated_at": NOW,
    }  # fmt: skip
    return {**values, **changes}


async def test_a_row_written_directly_reads_the_same_through_sqlalchemy(db: Database) -> None:
    async with db.direct.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_1"))
        await conn.execute(insert(AttemptRow), attempt("att_1", "ord_1"))
    async with db.engine.connect() as conn:
        row = (await conn.execute(ATTEMPT_BY_ID, {"id": "att_1"})).first()
    assert row is not None
    assert row._mapping == attempt("att_1", "ord_1")
    assert row.sent_at == NOW and row.sent_at.tzinfo is not None
    assert row.auto_capture is True and row.capture_error is None


async def test_a_row_written_through_sqlalchemy_reads_the_same_directly(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_1"))
        await conn.execute(insert(AttemptRow), attempt("att_1", "ord_1", auto_capture=False))
    async with db.direct.autocommit() as conn:
        row = (await conn.execute(ATTEMPT_BY_ID, {"id": "att_1"})).first()
        missing = (await conn.execute(ATTEMPT_BY_ID, {"id": "att_2"})).first()
    assert missing is None
    assert row._mapping == attempt("att_1", "ord_1", auto_capture=False)
    assert row.last_error == {"code": "card_declined", "message": "No",
                              "decline_code": "generic_decline"}  # fmt: skip
    assert row.auto_capture is False and row.sent_at == NOW and row[0] == "att_1"


async def test_an_update_counts_the_rows_it_changed(db: Database) -> None:
    async with db.direct.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_1"))
        await conn.execute(insert(AttemptRow), attempt("att_1", "ord_1"))
    values = {f"new_{k}": v for k, v in attempt("att_1", "ord_1", status="authorized").items()}
    params = {**values, "attempt_id": "att_1", "new_updated_at": NOW + timedelta(seconds=1)}
    async with db.direct.begin() as conn:
        first = await conn.execute(_UPDATE_ATTEMPT, {**params, "version": 1})
        stale = await conn.execute(_UPDATE_ATTEMPT, {**params, "version": 1})
    assert (first.rowcount, stale.rowcount) == (1, 0)
    async with db.engine.connect() as conn:
        row = (await conn.execute(ATTEMPT_BY_ID, {"id": "att_1"})).first()
    assert row is not None
    assert (row.status, row.version, row.updated_at) == (
        "authorized",
        2,
        NOW + timedelta(seconds=1),
    )


async def test_in_lists_of_every_length_and_multi_row_inserts(db: Database) -> None:
    ids = [f"evt_{n:03d}" for n in range(7)]
    events = [
        {"id": i, "type": "charge.succeeded", "object_id": None, "created": 1, "payload": "{}",
         "received_at": NOW, "processed_at": None}
        for i in ids
    ]  # fmt: skip
    returning = _RETURNING_ID[db.engine.dialect.name]
    expanding = select(WebhookEventRow.id, WebhookEventRow.received_at).where(
        WebhookEventRow.id.in_(bindparam("ids", expanding=True))
    )
    listed = select(WebhookEventRow.id, WebhookEventRow.received_at).where(
        in_list(WebhookEventRow.id, "ids")
    )
    async with db.direct.begin() as conn:
        first = {r.id for r in await conn.execute(returning, events[:4])}
        again = {r[0] for r in await conn.execute(returning, events[2:])}  # two of them again
        for by_id in (expanding, listed):
            for length in (1, 2, 5, 7):
                found = (await conn.execute(by_id, {"ids": ids[:length]})).all()
                assert sorted(r.id for r in found) == ids[:length]
                assert {r.received_at for r in found} == {NOW}
    assert first == set(ids[:4]) and again == set(ids[4:])
    # `in_list` is one statement for every length on PostgreSQL (an array), one per length on
    # SQLite (an expanding IN).
    sql = {db.direct.plans.get(listed, {"ids": ids[:length]}).sql for length in (1, 2, 5, 7)}
    assert len(sql) == (4 if db.is_sqlite else 1)
    if db.is_sqlite:  # an index serves it (no `IN (...) = 1`, which SQLite scans the table for)
        plan = db.direct.plans.get(listed, {"ids": ids[:2]})
        async with db.engine.connect() as conn:
            steps = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {plan.sql}", tuple(ids[:2]))
            details = " ".join(str(step[-1]) for step in steps)
        assert "SEARCH webhook_events USING" in details, details


async def test_a_batch_of_events_is_stored_once_in_one_statement_whatever_its_size(
    db: Database,
) -> None:
    events = [
        {"id": f"evt_{n:03d}", "type": "charge.succeeded", "object_id": None, "created": n,
         "payload": f'{{"n": {n}}}', "received_at": NOW, "processed_at": NOW if n % 2 else None}
        for n in range(9)
    ]  # fmt: skip
    async with db.direct.begin() as conn:
        first = await _insert_events(conn, events[:4])
        again = await _insert_events(conn, events[2:])  # two of them again
        alone = await _insert_events(conn, events[8:])
    assert first == {e["id"] for e in events[:4]}
    assert again == {e["id"] for e in events[4:]} and alone == set()
    async with db.engine.connect() as conn:
        stored = (await conn.execute(select(*WebhookEventRow.__table__.columns))).all()
    assert sorted((dict(r._mapping) for r in stored), key=lambda e: e["id"]) == events


async def test_an_upsert_moves_the_one_job(db: Database) -> None:
    upsert = _UPSERT_JOB[db.engine.dialect.name]
    job = {"kind": "capture", "attempt_id": "att_1", "due_at": NOW, "tries": 0,
           "last_error": None, "created_at": NOW}  # fmt: skip
    async with db.direct.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_1"))
        await conn.execute(insert(AttemptRow), attempt("att_1", "ord_1"))
        await conn.execute(upsert, job)
        await conn.execute(upsert, {**job, "due_at": NOW + timedelta(minutes=1), "tries": 1})
    async with db.engine.connect() as conn:
        jobs = (await conn.execute(select(OutboxRow.due_at, OutboxRow.tries))).all()
    assert [tuple(j) for j in jobs] == [(NOW + timedelta(minutes=1), 1)]


async def test_a_constraint_error_is_sqlalchemys_and_rolls_back(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            await conn.execute(insert(OrderRow), order("ord_1"))
    async with db.direct.autocommit() as conn:
        assert (await conn.execute(select(OrderRow.id))).all() == []
    async with db.direct.begin() as conn:  # the lane is usable again
        await conn.execute(insert(OrderRow), order("ord_1"))
    async with db.engine.connect() as conn:
        assert [r.id for r in await conn.execute(select(OrderRow.id))] == ["ord_1"]


async def test_an_error_in_the_block_rolls_back(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            raise RuntimeError("changed my mind")
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(OrderRow.id))).all() == []


async def test_a_snapshot_sees_one_state(db: Database) -> None:
    async with db.direct.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_1"))
    status = select(OrderRow.status).where(OrderRow.id == bindparam("id"))
    async with db.direct.snapshot() as snap:
        before = (await snap.execute(status, {"id": "ord_1"})).scalar()
        async with db.direct.begin() as conn:
            await conn.execute(update(OrderRow).where(OrderRow.id == "ord_1").values(status="paid"))
        during = (await snap.execute(status, {"id": "ord_1"})).scalar()
    async with db.direct.autocommit() as conn:
        after = (await conn.execute(status, {"id": "ord_1"})).scalar()
    assert (before, during, after) == ("open", "open", "paid")


async def test_a_cancelled_transaction_leaves_nothing_and_its_lane_is_replaced(
    db: Database,
) -> None:
    lanes = Lanes(db.engine, 1)
    entered = asyncio.Event()

    async def cut_off() -> None:
        async with lanes.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(cut_off())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with lanes.begin() as again:  # a new connection in place of the one cut off
        assert (await again.execute(select(OrderRow.id))).all() == []
        await again.execute(insert(OrderRow), order("ord_2"))
    await lanes.close()
    async with db.engine.connect() as conn:
        assert [r.id for r in await conn.execute(select(OrderRow.id))] == ["ord_2"]


async def test_every_lane_in_use_past_the_timeout_is_the_pools_timeout(db: Database) -> None:
    lanes = Lanes(db.engine, 1, timeout=0.2)
    async with lanes.autocommit():
        with pytest.raises(PoolTimeout):
            async with lanes.autocommit():
                pass
    async with lanes.autocommit() as conn:  # free again
        assert (await conn.execute(select(OrderRow.id))).all() == []
    await lanes.close()


async def test_writes_held_back_are_read_back_in_the_transaction_and_committed(
    db: Database,
) -> None:
    status = select(OrderRow.status).where(OrderRow.id == bindparam("id"))
    paid = update(OrderRow).where(OrderRow.id == bindparam("order_id")).values(status="paid")
    job = {"kind": "capture", "attempt_id": "att_1", "due_at": NOW, "tries": 0,
           "last_error": None, "created_at": NOW}  # fmt: skip
    async with db.direct.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_1"))
        await conn.execute(insert(AttemptRow), attempt("att_1", "ord_1"))
        await conn.defer(paid, {"order_id": "ord_1"})
        await conn.defer(_UPSERT_JOB[db.engine.dialect.name], job)
        # A read of a table with a write held back sees the write.
        assert (await conn.execute(status, {"id": "ord_1"})).scalar() == "paid"
        await conn.defer(update(OrderRow).where(OrderRow.id == "ord_1").values(tax=99))
        await conn.defer(delete(OutboxRow).where(OutboxRow.attempt_id == "att_1"))
    async with db.engine.connect() as conn:
        found = (await conn.execute(select(OrderRow.status, OrderRow.tax))).all()
        jobs = (await conn.execute(select(OutboxRow.id))).all()
    assert [tuple(f) for f in found] == [("paid", 99)] and jobs == []


async def test_a_write_held_back_that_breaks_a_rule_rolls_everything_back(db: Database) -> None:
    orphan = {"order_id": "ord_missing", "entity": "order", "from_status": None,
              "to_status": "open", "event": "created", "cause": "test", "at": NOW}  # fmt: skip
    with pytest.raises(IntegrityError):
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            await conn.defer(insert(TransitionRow), [orphan])  # no such order: foreign key
            await conn.defer(update(OrderRow).where(OrderRow.id == "ord_1").values(tax=1))
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(OrderRow.id))).all() == []
        assert (await conn.execute(select(TransitionRow.id))).all() == []


async def test_writes_held_back_are_dropped_with_a_rollback(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            await conn.defer(update(OrderRow).where(OrderRow.id == "ord_1").values(tax=1))
            raise RuntimeError("changed my mind")
    async with db.direct.begin() as conn:  # nothing left over on the lane
        await conn.execute(insert(OrderRow), order("ord_2"))
    async with db.engine.connect() as conn:
        found = (await conn.execute(select(OrderRow.id, OrderRow.tax))).all()
    assert [tuple(f) for f in found] == [("ord_2", 80)]


async def test_a_connection_lost_fails_one_transaction_and_is_replaced(db: Database) -> None:
    lanes = Lanes(db.engine, 1)
    async with lanes.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_1"))
        lane = conn._lane
    # The connection dies while idle: the server ends it, or the SQLite thread is gone.
    if db.is_sqlite:
        await lane.driver.close()
    else:
        async with db.engine.connect() as other:
            pid = lane.driver.get_server_pid()
            await other.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
        await asyncio.sleep(0.2)
    with pytest.raises(DBAPIError):
        async with lanes.begin() as conn:
            await conn.execute(select(OrderRow.id))
    async with lanes.begin() as conn:  # a new connection in its place
        assert conn._lane is not lane
        assert [r.id for r in await conn.execute(select(OrderRow.id))] == ["ord_1"]
    await lanes.close()
