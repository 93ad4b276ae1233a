"""A change that reads nothing in between is one statement on PostgreSQL (store/direct.Fused).

Its first write is the guard, an UPDATE of the attempt at the version the caller read; every
other write lands only if the guard found its row, and a broken rule anywhere undoes all of it.
On SQLite, and whenever the change cannot be one statement, the same change goes by a
transaction as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from countertop.backend.services.attempts import new_attempt
from countertop.backend.services.records import (
    _INSERT_HOLD,
    _INSERT_TRANSITION,
    _ORDER_WITH_OTHERS,
    _UPDATE_ATTEMPT,
    _UPSERT_JOB,
    ATTEMPT_BY_ID,
    apply,
)
from countertop.backend.store import direct
from countertop.backend.store.db import Database
from countertop.backend.store.direct import CannotFuse
from countertop.backend.store.payments import (
    AttemptRow,
    OrderRow,
    OutboxRow,
    ReaderHoldRow,
    TransitionRow,
)
from countertop.domain.attempts import AttachPaymentIntent, AttemptStatus, HandToReader
from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order
from tests.backend.stack import Stripe, running_backend
from tests.backend.test_direct_statements import attempt, order
from tests.conftest import fresh_database

NOW = datetime(2026, 12, 7, 2, 10, 5, 250000, tzinfo=UTC)


_CREATED = attempt("att_1", "ord_1", status="created")


@contextlib.asynccontextmanager
async def _seeded(url: str, *attempts: dict[str, Any]) -> AsyncIterator[Database]:
    """A migrated database holding order ord_1 and these attempts of it."""
    database = Database(url)
    await database.migrate()
    try:
        async with database.direct.begin() as conn:
            await conn.execute(insert(OrderRow), order("ord_1"))
            for values in attempts:
                await conn.execute(insert(AttemptRow), values)
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def pg(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database("postgres", tmp_path) as url, _seeded(url, _CREATED) as database:
        yield database


def _guard(version: int) -> dict[str, Any]:
    """The attempt handed to reader tmr_2, if it is still at `version`."""
    values = {name: value for name, value in attempt("att_1", "ord_1").items()}
    written = {f"new_{name}": values[name] for name in (
        "status", "active_order_id", "reader_id", "payment_intent_id", "tip", "amount_captured",
        "amount_refunded", "process_count", "capture_failures", "last_error", "capture_error",
        "card_brand", "card_last4", "sent_at",
    )}  # fmt: skip
    written["new_reader_id"] = "tmr_2"
    return {**written, "new_updated_at": NOW, "attempt_id": "att_1", "version": version}


def _steps(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"order_id": "ord_1", "entity": "attempt:att_1", "from_status": before,
         "to_status": after, "event": "hand_to_reader", "cause": "test", "at": NOW}
        for before, after in pairs
    ]  # fmt: skip


def _hold(reader: str, attempt_id: str = "att_1", order_id: str = "ord_1") -> dict[str, Any]:
    return {"reader_id": reader, "attempt_id": attempt_id, "order_id": order_id, "created_at": NOW}


def _job(tries: int) -> dict[str, Any]:
    return {"kind": "capture", "attempt_id": "att_1", "due_at": NOW, "tries": tries,
            "last_error": None, "created_at": NOW}  # fmt: skip


async def _state(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        row = (await conn.execute(ATTEMPT_BY_ID, {"id": "att_1"})).first()
        holds = (await conn.execute(select(ReaderHoldRow.reader_id))).scalars().all()
        steps = (await conn.execute(select(TransitionRow.to_status))).scalars().all()
        jobs = (await conn.execute(select(OutboxRow.tries))).scalars().all()
    assert row is not None
    return {"reader": row.reader_id, "version": row.version, "holds": sorted(holds),
            "steps": sorted(steps), "jobs": list(jobs)}  # fmt: skip


async def _fused(db: Database, guard_version: int, *writes: tuple[Any, Any]) -> bool:
    async with db.direct.fused() as change:
        change.guard(_UPDATE_ATTEMPT, _guard(guard_version))
        for statement, params in writes:
            change.add(statement, params)
        return await change.send()


@pytest.mark.postgres
async def test_a_change_whose_guard_finds_its_row_is_written_whole(pg: Database) -> None:
    written = await _fused(
        pg, 1,
        (_INSERT_HOLD, _hold("tmr_2")),
        (_INSERT_TRANSITION, _steps(("created", "on_reader"), ("on_reader", "declined"))),
        (_UPSERT_JOB["postgresql"], _job(0)),
    )  # fmt: skip
    assert written is True
    assert await _state(pg) == {
        "reader": "tmr_2", "version": 2, "holds": ["tmr_2"],
        "steps": ["declined", "on_reader"], "jobs": [0],
    }  # fmt: skip


@pytest.mark.postgres
async def test_a_guard_that_finds_no_row_writes_nothing(pg: Database) -> None:
    async with pg.direct.begin() as conn:
        await conn.execute(insert(ReaderHoldRow), _hold("tmr_9"))
        await conn.execute(insert(OutboxRow), {**_job(3), "id": 7})
    before = await _state(pg)
    written = await _fused(
        pg, 5,  # the attempt is at version 1: someone else changed it since it was read
        (_INSERT_HOLD, _hold("tmr_2")),
        (_INSERT_TRANSITION, _steps(("created", "on_reader"))),
        (delete(OutboxRow).where(OutboxRow.id == 7), {}),
    )  # fmt: skip
    assert written is False
    assert await _state(pg) == before == {
        "reader": "tmr_1", "version": 1, "holds": ["tmr_9"], "steps": [], "jobs": [3],
    }  # fmt: skip


@pytest.mark.postgres
async def test_an_upsert_in_one_statement_moves_the_one_job(pg: Database) -> None:
    async with pg.direct.begin() as conn:
        await conn.execute(insert(OutboxRow), {**_job(3), "id": 7})
    assert await _fused(pg, 1, (_UPSERT_JOB["postgresql"], _job(4))) is True
    assert (await _state(pg))["jobs"] == [4]


class _Taken(Exception):
    pass


@pytest.mark.postgres
async def test_a_unique_rule_broken_raises_the_conflict_given_and_undoes_the_guard(
    pg: Database,
) -> None:
    async with pg.direct.begin() as conn:
        await conn.execute(insert(OrderRow), order("ord_2"))
        await conn.execute(insert(AttemptRow), attempt("att_2", "ord_2"))
        await conn.execute(insert(ReaderHoldRow), _hold("tmr_2", "att_2", "ord_2"))
    with pytest.raises(_Taken):
        async with pg.direct.fused() as change:
            change.guard(_UPDATE_ATTEMPT, _guard(1))
            change.add(_INSERT_TRANSITION, _steps(("created", "on_reader")))
            change.add(_INSERT_HOLD, _hold("tmr_2"), conflict=_Taken())
            await change.send()
    state = await _state(pg)
    assert (state["reader"], state["version"], state["steps"]) == ("tmr_1", 1, [])
    # The lane is sound and used again.
    assert await _fused(pg, 1, (_INSERT_HOLD, _hold("tmr_3"))) is True


@pytest.mark.postgres
async def test_any_other_broken_rule_is_sqlalchemys_and_undoes_everything(pg: Database) -> None:
    orphan = {**_steps(("created", "on_reader"))[0], "order_id": "ord_missing"}
    with pytest.raises(IntegrityError):
        await _fused(pg, 1, (_INSERT_HOLD, _hold("tmr_2")), (_INSERT_TRANSITION, [orphan]))
    assert await _state(pg) == {
        "reader": "tmr_1", "version": 1, "holds": [], "steps": [], "jobs": [],
    }  # fmt: skip


@pytest.mark.postgres
async def test_what_cannot_be_one_statement_is_refused_before_anything_is_sent(
    pg: Database,
) -> None:
    async with pg.direct.fused() as change:
        with pytest.raises(CannotFuse):  # a write with no guard before it
            change.add(_INSERT_HOLD, _hold("tmr_2"))
        with pytest.raises(CannotFuse):  # a guard that is no UPDATE
            change.guard(_INSERT_HOLD, _hold("tmr_2"))
        change.guard(_UPDATE_ATTEMPT, _guard(1))
        with pytest.raises(CannotFuse):  # a read: its answer would come too late
            await change.execute(ATTEMPT_BY_ID, {"id": "att_1"})
        with pytest.raises(CannotFuse):  # a second change to the guard's table
            change.add(update(AttemptRow).where(AttemptRow.id == "att_1").values(tip=5), {})
        with pytest.raises(CannotFuse):  # a second guard
            change.guard(_UPDATE_ATTEMPT, _guard(1))
    assert (await _state(pg))["version"] == 1  # never sent


async def test_sqlite_refuses_a_fused_change_before_taking_a_connection(tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as url, _seeded(url) as database:
        assert database.direct.fuses is False
        with pytest.raises(CannotFuse):
            async with database.direct.fused():
                pass


# --- a write and a read in one round trip ------------------------------------------------------


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    canceled = attempt("att_0", "ord_1", status="canceled", active_order_id=None)
    async with _seeded(database_url, _CREATED, canceled) as database:
        yield database


async def test_a_write_then_a_read_counts_the_rows_written_and_reads_the_rest(
    db: Database,
) -> None:
    others = {"id": "ord_1", "attempt_id": "att_1"}
    async with db.direct.begin() as conn:
        written, rows = await conn.write_then_read(
            _UPDATE_ATTEMPT, _guard(1), _ORDER_WITH_OTHERS, others
        )
        missed, again = await conn.write_then_read(
            _UPDATE_ATTEMPT,
            _guard(1),
            _ORDER_WITH_OTHERS,
            others,  # now at version 2
        )
        _, none = await conn.write_then_read(
            _UPDATE_ATTEMPT, _guard(2), _ORDER_WITH_OTHERS, {**others, "id": "ord_missing"}
        )
    assert (written, missed) == (1, 0)
    # The order, with its other attempt (the one written is left to the caller).
    assert [(r.order_status, r.subtotal, r.attempt_id, r.status) for r in rows] == [
        ("open", 1000, "att_0", "canceled")
    ]
    assert [tuple(r) for r in again] == [tuple(r) for r in rows]
    assert none == []
    assert (await _state(db))["reader"] == "tmr_2" and (await _state(db))["version"] == 3


# --- in the service: a payment handed to a reader -------------------------------------------


async def test_a_hand_over_is_one_statement_and_a_stale_copy_goes_by_a_transaction(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe, monkeypatch: Any
) -> None:
    sent: list[bool] = []
    send = direct.Fused.send

    async def counted(self: direct.Fused) -> bool:
        sent.append(await send(self))
        return sent[-1]

    monkeypatch.setattr(direct.Fused, "send", counted)
    async with running_backend(database_url, emulator, COUNTERTOP_SWEEP_INTERVAL="3600") as backend:
        svc = backend.app.state.services
        async with backend.client() as http:
            created = await create_order(http, backend.demo.location_id, amount=1500)
        async with svc.db.session() as s:
            order_row = await s.get(OrderRow, created["id"])
        assert order_row is not None
        row = await new_attempt(svc, order_row, "test")
        reader = backend.demo.reader_ids[0]
        attached = await apply(svc, row.id, [AttachPaymentIntent("pi_fused")], "test", loaded=row)
        async with svc.db.session() as s:
            read = await s.get(AttemptRow, row.id)
        assert read is not None and read.version == 2
        # Another writer changes the attempt after it was read (as the sweep may): the guard of
        # the hand-over finds no row at the version read, nothing is written, and the change is
        # decided again on the attempt read afresh, in a transaction.
        async with svc.db.engine.begin() as conn:
            await conn.execute(update(AttemptRow).where(AttemptRow.id == row.id).values(version=3))
        handed = await apply(svc, row.id, [HandToReader(reader)], "test", loaded=read)
        async with svc.db.session() as s:
            final = await s.get(AttemptRow, row.id)
            holds = (await s.execute(select(ReaderHoldRow.attempt_id))).scalars().all()
            steps = (
                await s.execute(
                    select(TransitionRow.from_status, TransitionRow.to_status)
                    .where(TransitionRow.entity == f"attempt:{row.id}")
                    .order_by(TransitionRow.id)
                )
            ).all()

    assert attached is not None and handed is not None
    assert handed.attempt.status is AttemptStatus.ON_READER
    assert final is not None
    assert (final.status, final.payment_intent_id, final.reader_id, final.version) == (
        "on_reader", "pi_fused", reader, 4,
    )  # fmt: skip
    assert holds == [row.id]
    assert [tuple(s) for s in steps] == [
        (None, "created"), ("created", "created"), ("created", "on_reader"),
    ]  # fmt: skip
    # PostgreSQL: the first change went as one statement; the second's guard missed, so it went
    # by a transaction. SQLite always goes by a transaction.
    assert sent == ([True, False] if svc.db.direct.fuses else [])
