"""The unit of work for attempts: a domain transition and everything it implies, in one commit.

`apply` loads an attempt, runs the pure state machine, and writes in one database transaction:
the attempt (checked against its version, so concurrent writers never lose an update), the
transition history with its cause, the effects (reader hold, capture job in the outbox), the
order's derived status, and, for a webhook, the mark that its event has been applied. Only then
are live clients told. On PostgreSQL a change that cannot move its order, made to the attempt as
the caller read it, is one statement instead (`store.direct.Fused`), and a change that does move
it writes the attempt and reads the order in one round trip (`Connection.write_then_read`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from countertop.backend import metrics
from countertop.backend.services.context import Services
from countertop.backend.store.base import as_model, column_keys
from countertop.backend.store.direct import CannotFuse, Fused
from countertop.backend.store.direct import Connection as DirectConnection
from countertop.backend.store.payments import (
    AttemptRow,
    OrderRow,
    OutboxRow,
    ReaderHoldRow,
    TransitionRow,
    WebhookEventRow,
)
from countertop.domain.attempts import (
    ACTIVE,
    SETTLED,
    Attempt,
    AttemptStatus,
    Card,
    DropCapture,
    Effect,
    Event,
    HoldReader,
    PaymentError,
    ReleaseReader,
    ScheduleCapture,
    event_name,
    transition,
)
from countertop.domain.errors import DomainError
from countertop.domain.orders import order_status, order_total, order_unaffected

log = logging.getLogger("countertop.payments")
# Where the unit of work runs: an ORM session's transaction, a plain connection's, a direct
# one's, or one statement (store/direct.py).
Executor = AsyncSession | AsyncConnection | DirectConnection | Fused
CAPTURE = "capture"
# How long a capture job taken by a worker is left to it before any worker may try it again.
CAPTURE_LEASE = timedelta(seconds=60)
# The same for a capture due at once, which the process committing it tries straight away: a
# try takes milliseconds, and a process killed meanwhile leaves the job to others this soon.
# (A second try while the first is still waiting on Stripe carries the same idempotency key.)
CAPTURE_NOW_LEASE = timedelta(seconds=10)
MAX_TRIES = 8


class ReaderBusy(Exception):
    def __init__(self, reader_id: str, order_id: str | None) -> None:
        super().__init__(f"reader {reader_id} is busy with order {order_id}")
        self.reader_id = reader_id
        self.order_id = order_id


class StaleWrite(Exception):
    """Another writer changed the attempt first; load it again and re-apply."""


@dataclass(frozen=True)
class Applied:
    attempt: Attempt
    changed: bool
    location_id: str
    # The statuses the attempt went through in this change, in order.
    reached: tuple[AttemptStatus, ...] = ()
    # The attempt's row as written, when the change leaves it authorized or settled: statuses
    # it only moves on from, so what is old news to it stays old news (`EventBatches.remember`).
    written: Any = None
    # The change leaves the attempt authorized with its capture due now: the job is committed
    # leased to this process, which tries it (on `written`) as soon as the change is announced
    # (another process or a restart takes it over once the lease runs out).
    capture_now: bool = False


def error_to_json(error: PaymentError | None) -> dict[str, str | None] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "decline_code": error.decline_code}


def error_from_json(data: dict[str, Any] | None) -> PaymentError | None:
    if not data:
        return None
    return PaymentError(str(data["code"]), str(data["message"]), data.get("decline_code"))


def to_domain(row: Any) -> Attempt:
    """The domain attempt of an attempt row (an ORM object or a Core row of its columns)."""
    card = Card(row.card_brand, row.card_last4) if row.card_brand or row.card_last4 else None
    return Attempt(
        id=row.id,
        order_id=row.order_id,
        amount=row.amount,
        currency=row.currency,
        auto_capture=row.auto_capture,
        status=AttemptStatus(row.status),
        reader=row.reader_id,
        payment_intent=row.payment_intent_id,
        tip=row.tip,
        amount_captured=row.amount_captured,
        amount_refunded=row.amount_refunded,
        process_count=row.process_count,
        capture_failures=row.capture_failures,
        last_error=error_from_json(row.last_error),
        capture_error=error_from_json(row.capture_error),
        card=card,
        sent_at=row.sent_at,
    )


def row_values(state: Attempt) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "active_order_id": state.order_id if state.status in ACTIVE else None,
        "reader_id": state.reader,
        "payment_intent_id": state.payment_intent,
        "tip": state.tip,
        "amount_captured": state.amount_captured,
        "amount_refunded": state.amount_refunded,
        "process_count": state.process_count,
        "capture_failures": state.capture_failures,
        "last_error": error_to_json(state.last_error),
        "capture_error": error_to_json(state.capture_error),
        "card_brand": state.card.brand if state.card else None,
        "card_last4": state.card.last4 if state.card else None,
        "sent_at": state.sent_at,
    }


# The attempt's columns that `row_values` gives (its statements are built once, on these names).
_ATTEMPT_WRITTEN = (
    "status", "active_order_id", "reader_id", "payment_intent_id", "tip", "amount_captured",
    "amount_refunded", "process_count", "capture_failures", "last_error", "capture_error",
    "card_brand", "card_last4", "sent_at",
)  # fmt: skip


def with_state(row: Any, state: Attempt, **changes: Any) -> AttemptRow:
    """A detached copy of an attempt's row showing a newer state (never added to a session)."""
    values = {key: getattr(row, key) for key in column_keys(AttemptRow)}
    return as_model(AttemptRow, {**values, **row_values(state), **changes})


_MARK_APPLIED = (
    update(WebhookEventRow)
    .where(WebhookEventRow.id == bindparam("event_id"), WebhookEventRow.processed_at.is_(None))
    .values(processed_at=bindparam("now"))
)


async def mark_event_applied(s: Executor, event_id: str, now: datetime) -> bool:
    """Claim the application of a webhook event; False when it was applied already."""
    result = await s.execute(_MARK_APPLIED, {"event_id": event_id, "now": now})
    return bool(result.rowcount)  # type: ignore[union-attr]


async def reader_holder(svc: Services, reader_id: str) -> ReaderHoldRow | None:
    async with svc.db.session() as s:
        return await s.get(ReaderHoldRow, reader_id)


async def apply(
    svc: Services,
    attempt_id: str,
    events: Sequence[Event],
    cause: str,
    *,
    event_id: str | None = None,
    loaded: AttemptRow | None = None,
) -> Applied | None:
    """Apply events to an attempt and commit them with their effects; None if no such attempt.

    `loaded` is the attempt as the caller read it a moment ago, to save reading it again. It is
    trusted only for a change it leads to: its version guards the write, and when it leads to
    no change or to a refusal, the attempt is read afresh and decided again.
    """
    for _ in range(MAX_TRIES):
        now = svc.clock()
        try:
            result = None
            if loaded is not None and event_id is None and _fusable(svc, loaded, events, now):
                with contextlib.suppress(CannotFuse):
                    result = await _apply_fused(svc, attempt_id, events, cause, now, loaded)
            if result is None:
                async with svc.db.direct.begin() as conn:
                    result = await apply_once(
                        conn, attempt_id, events, cause, event_id, now, loaded
                    )
                    if loaded is not None and (result is None or not result[0].changed):
                        raise StaleWrite  # perhaps only the caller's copy says so: roll back
        except StaleWrite:
            loaded = None
            continue
        except DomainError:
            if loaded is None:
                raise
            loaded = None
            continue
        except _HoldTaken as taken:
            holder = await reader_holder(svc, taken.reader_id)
            raise ReaderBusy(taken.reader_id, holder.order_id if holder else None) from None
        if result is None:
            return None
        applied, effects = result
        announce(svc, applied, effects, cause)
        return applied
    raise RuntimeError(f"attempt {attempt_id} kept changing under us")


def _fusable(svc: Services, loaded: Any, events: Sequence[Event], now: datetime) -> bool:
    """Whether the change `events` make to the attempt as the caller read it leaves its order
    as it is: then it reads nothing more and can be one statement (`Fused`, PostgreSQL)."""
    if not svc.db.direct.fuses:
        return False
    before = state = to_domain(loaded)
    try:
        for event in events:
            state, _ = transition(state, event, now)
    except DomainError:
        return False
    return state != before and order_unaffected(before.status, state.status)


async def _apply_fused(
    svc: Services,
    attempt_id: str,
    events: Sequence[Event],
    cause: str,
    now: datetime,
    loaded: Any,
) -> tuple[Applied, list[Effect]]:
    """`apply_once` on the caller's copy of the attempt, written as one statement guarded by
    its version: StaleWrite (and nothing written) if the attempt changed meanwhile."""
    async with svc.db.direct.fused() as writes:
        result = await apply_once(writes, attempt_id, events, cause, None, now, loaded)
        if result is None or not result[0].changed or not await writes.send():
            raise StaleWrite
    return result


def announce(svc: Services, applied: Applied, effects: Sequence[Effect], cause: str) -> None:
    """After the commit of a change: log it, count it, wake the worker, tell live clients."""
    if not applied.changed:
        return
    state = applied.attempt
    log.info(
        "attempt %s is %s (%s)",
        state.id,
        state.status.value,
        cause,
        extra={"order_id": state.order_id, "payment_intent": state.payment_intent},
    )
    for status in applied.reached:
        if status in OUTCOMES:
            metrics.record_payment_outcome(status.value)
    after_commit(svc, applied, effects)


AUTHORIZED_OR_SETTLED = frozenset({AttemptStatus.AUTHORIZED, *SETTLED})
# Attempt statuses counted as payment outcomes in the metrics.
OUTCOMES = frozenset(
    {
        AttemptStatus.CAPTURED,
        AttemptStatus.DECLINED,
        AttemptStatus.CANCELED,
        AttemptStatus.FAILED,
        AttemptStatus.PARTIALLY_REFUNDED,
        AttemptStatus.REFUNDED,
    }
)


# Built once. Table-level (Core) statements: they run the same on a session or a connection.
ATTEMPT_BY_ID = select(*AttemptRow.__table__.columns).where(AttemptRow.id == bindparam("id"))
# What an order holds that is derived from its attempts.
_ORDER_DERIVED = (
    "status", "tip", "total", "amount_captured", "amount_refunded", "card_brand", "card_last4"
)  # fmt: skip
# The order's columns (its own labelled `order_*`) and those of its attempts that it derives from.
_ORDER_AND_ATTEMPT_COLUMNS = (
    OrderRow.subtotal,
    OrderRow.tax,
    *(OrderRow.__table__.c[name].label(f"order_{name}") for name in _ORDER_DERIVED),
    AttemptRow.status,
    AttemptRow.tip,
    AttemptRow.amount_captured,
    AttemptRow.amount_refunded,
    AttemptRow.card_brand,
    AttemptRow.card_last4,
)
# The order (locked) with the attempts its status is derived from, in one statement; an order
# with no attempts yet gives one row of NULLs for them.
_ORDER_WITH_ATTEMPTS = (
    select(*_ORDER_AND_ATTEMPT_COLUMNS)
    .select_from(OrderRow)
    .outerjoin(AttemptRow, AttemptRow.order_id == OrderRow.id)
    .where(OrderRow.id == bindparam("id"))
    .order_by(AttemptRow.created_at, AttemptRow.id)
    .with_for_update(of=OrderRow)
)
# The same less one attempt (the one being written, whose new state the caller knows), with each
# attempt's id and creation time to put them in order; read in the round trip that writes it
# (`Connection.write_then_read`), so they are put in order by `_write_and_read_order`.
_ORDER_WITH_OTHERS = (
    select(
        *_ORDER_AND_ATTEMPT_COLUMNS,
        AttemptRow.id.label("attempt_id"),
        AttemptRow.created_at.label("attempt_created_at"),
    )
    .select_from(OrderRow)
    .outerjoin(
        AttemptRow,
        and_(AttemptRow.order_id == OrderRow.id, AttemptRow.id != bindparam("attempt_id")),
    )
    .where(OrderRow.id == bindparam("id"))
    .with_for_update(of=OrderRow)
)
# Parameters named `new_*`: a bind parameter may not share the name of a column it sets.
_UPDATE_ORDER = (
    update(OrderRow)
    .where(OrderRow.id == bindparam("order_id"))
    .values({name: bindparam(f"new_{name}") for name in (*_ORDER_DERIVED, "updated_at")})
)
_INSERT_TRANSITION = insert(TransitionRow)
# The attempt's columns that a change writes (`row_values`), guarded by the version it was read at.
_UPDATE_ATTEMPT = (
    update(AttemptRow)
    .where(AttemptRow.id == bindparam("attempt_id"), AttemptRow.version == bindparam("version"))
    .values(
        {
            **{name: bindparam(f"new_{name}") for name in _ATTEMPT_WRITTEN},
            "version": AttemptRow.version + 1,
            "updated_at": bindparam("new_updated_at"),
        }
    )
)
_INSERT_HOLD = insert(ReaderHoldRow)
_RELEASE_HOLD = delete(ReaderHoldRow).where(
    ReaderHoldRow.reader_id == bindparam("reader_id"),
    ReaderHoldRow.attempt_id == bindparam("attempt_id"),
)
DROP_CAPTURE_JOB = delete(OutboxRow).where(
    OutboxRow.kind == CAPTURE, OutboxRow.attempt_id == bindparam("attempt_id")
)


class _HoldTaken(Exception):
    def __init__(self, reader_id: str) -> None:
        self.reader_id = reader_id


async def apply_once(
    s: Executor,
    attempt_id: str,
    events: Sequence[Event],
    cause: str,
    event_id: str | None,
    now: datetime,
    loaded: Any = None,
) -> tuple[Applied, list[Effect]] | None:
    """One try at applying `events`, in the caller's transaction (a session or a connection).

    `loaded` is the attempt's row if the caller just read it in this transaction (its version
    still guards the write). Core statements only: no ORM objects are loaded or flushed.
    """
    row = (
        loaded
        if loaded is not None
        else (await s.execute(ATTEMPT_BY_ID, {"id": attempt_id})).first()
    )
    if row is None:
        return None
    original = state = to_domain(row)
    if event_id is not None and not await mark_event_applied(s, event_id, now):
        return Applied(state, False, row.location_id), []
    effects: list[Effect] = []
    history: list[tuple[AttemptStatus, AttemptStatus, str]] = []
    for event in events:
        new, produced = transition(state, event, now)
        # Learning the card from a late report is not a step of the payment: no history row.
        if replace(new, card=state.card) != state:
            history.append((state.status, new.status, event_name(event)))
        effects.extend(produced)
        state = new
    if state == original:
        return Applied(state, False, row.location_id), []
    values = {f"new_{name}": value for name, value in row_values(state).items()}
    guarded = {**values, "new_updated_at": now, "attempt_id": attempt_id, "version": row.version}
    affects_order = not order_unaffected(original.status, state.status)
    joined = affects_order and isinstance(s, DirectConnection)
    order_read: OrderRead = None
    if isinstance(s, Fused):
        s.guard(_UPDATE_ATTEMPT, guarded)  # the rest is written only if this finds its row
    elif affects_order and isinstance(s, DirectConnection):
        order_read = await _write_and_read_order(s, _UPDATE_ATTEMPT, guarded, state, row.created_at)
    else:
        updated = await s.execute(_UPDATE_ATTEMPT, guarded)
        if updated.rowcount != 1:  # type: ignore[union-attr]
            raise StaleWrite
    await _carry_out(s, state, effects, now)
    steps = [
        {
            "order_id": state.order_id,
            "entity": f"attempt:{state.id}",
            "from_status": before.value,
            "to_status": after.value,
            "event": name,
            "cause": cause[:255],
            "at": now,
        }
        for before, after, name in history
    ]
    last = history[-1][2] if history else "update"
    if not affects_order:
        if steps:  # the order stays as it is: no need to read it, lock it or write it
            await _write(s, _INSERT_TRANSITION, steps)
    elif joined:
        await _derive_order(s, state.order_id, order_read, last, cause, now, steps)
    else:
        await refresh_order(s, state.order_id, last, cause, now, steps)
    reached = tuple(after for _, after, _ in history)
    written = None
    if state.status in AUTHORIZED_OR_SETTLED:
        written = with_state(row, state, version=row.version + 1)
    capture_now = state.status is AttemptStatus.AUTHORIZED and _capture_due(effects, now)
    return Applied(state, True, row.location_id, reached, written, capture_now), effects


async def _carry_out(s: Executor, state: Attempt, effects: list[Effect], now: datetime) -> None:
    for effect in effects:
        match effect:
            case HoldReader(reader=reader):
                hold = {
                    "reader_id": reader,
                    "attempt_id": state.id,
                    "order_id": state.order_id,
                    "created_at": now,
                }
                if isinstance(s, Fused):
                    s.add(_INSERT_HOLD, hold, conflict=_HoldTaken(reader))
                    continue
                try:
                    await s.execute(_INSERT_HOLD, hold)
                except IntegrityError:
                    raise _HoldTaken(reader) from None
            case ReleaseReader(reader=reader):
                await _write(s, _RELEASE_HOLD, {"reader_id": reader, "attempt_id": state.id})
            case ScheduleCapture(at=at):
                await _schedule_capture(s, state, at, now)
            case DropCapture():
                await _write(s, DROP_CAPTURE_JOB, {"attempt_id": state.id})


async def _write(s: Executor, statement: Any, params: Any) -> None:
    """A write whose outcome the unit of work does not read: on a direct connection it waits to
    go to the database with the others (`Connection.defer`)."""
    if isinstance(s, DirectConnection):
        await s.defer(statement, params)
    elif isinstance(s, Fused):
        s.add(statement, params)
    else:
        await s.execute(statement, params)


def _capture_due(effects: Sequence[Effect], now: datetime) -> bool:
    """Whether the last word on the capture job is to try it now."""
    for effect in reversed(effects):
        if isinstance(effect, DropCapture):
            return False
        if isinstance(effect, ScheduleCapture):
            return effect.at <= now
    return False


async def _schedule_capture(s: Executor, state: Attempt, at: datetime, now: datetime) -> None:
    """The attempt's one capture job, due at `at` (created, or moved with its tries and error).

    A job due now is written leased to this process (`Applied.capture_now`), which tries it
    once the change is committed; the worker only finds it if that try never finishes.
    """
    error = state.capture_error.message if state.capture_error else None
    job = {
        "kind": CAPTURE,
        "attempt_id": state.id,
        "due_at": now + CAPTURE_NOW_LEASE if at <= now else at,
        "tries": state.capture_failures,
        "last_error": error,
        "created_at": now,
    }
    await _write(s, _UPSERT_JOB[_dialect(s)], job)


def _dialect(s: Executor) -> str:
    bind = s.get_bind() if isinstance(s, AsyncSession) else s
    return bind.dialect.name


def _upsert_job(dialect: Any) -> Any:
    statement = dialect.insert(OutboxRow)
    return statement.on_conflict_do_update(
        index_elements=[OutboxRow.kind, OutboxRow.attempt_id],
        set_={
            "due_at": statement.excluded.due_at,
            "tries": statement.excluded.tries,
            "last_error": statement.excluded.last_error,
        },
    )


# One statement whether the job exists or not (the unique constraint on kind and attempt).
_UPSERT_JOB = {"sqlite": _upsert_job(sqlite_dialect), "postgresql": _upsert_job(postgresql_dialect)}


# The order (locked) and its attempts in order, as `refresh_order` reads them; None: no order.
OrderRead = tuple[Any, list[Any]] | None


async def _write_and_read_order(
    s: DirectConnection, write: Any, params: Any, state: Attempt, created_at: datetime
) -> OrderRead:
    """Write the attempt (`state`, its row's UPDATE or INSERT) and read its order with the
    other attempts, locked, in one round trip (PostgreSQL); StaleWrite if nothing was written."""
    count, others = await s.write_then_read(
        write, params, _ORDER_WITH_OTHERS, {"id": state.order_id, "attempt_id": state.id}
    )
    if count != 1:
        raise StaleWrite
    if not others:
        return None
    own = SimpleNamespace(
        status=state.status.value,
        tip=state.tip,
        amount_captured=state.amount_captured,
        amount_refunded=state.amount_refunded,
        card_brand=state.card.brand if state.card else None,
        card_last4=state.card.last4 if state.card else None,
        attempt_id=state.id,
        attempt_created_at=created_at,
    )
    attempts = [r for r in others if r.status is not None] + [own]
    attempts.sort(key=lambda r: (r.attempt_created_at, r.attempt_id))
    return others[0], attempts


async def write_attempt_and_refresh(
    s: DirectConnection,
    insert: Any,
    values: dict[str, Any],
    state: Attempt,
    event: str,
    cause: str,
    steps: Sequence[dict[str, Any]],
) -> None:
    """A new attempt's row (`values`, written by `insert`) and its order derived again with it:
    the insert and the order's read in one round trip on PostgreSQL."""
    now = values["created_at"]
    read = await _write_and_read_order(s, insert, values, state, now)
    await _derive_order(s, state.order_id, read, event, cause, now, steps)


async def refresh_order(
    s: Executor,
    order_id: str,
    event: str,
    cause: str,
    now: datetime,
    steps: Sequence[dict[str, Any]] = (),
) -> None:
    """Derive the order's status, tip, totals and card from its attempts (fresh from the database).

    `steps` are the attempt's transitions of this change, written in one statement with the
    order's own. The order row is written only when what is derived changed (a payment handed
    to a reader leaves an order in payment as it was).
    """
    rows = (await s.execute(_ORDER_WITH_ATTEMPTS, {"id": order_id})).all()
    read = (rows[0], [r for r in rows if r.status is not None]) if rows else None
    await _derive_order(s, order_id, read, event, cause, now, steps)


async def _derive_order(
    s: Executor,
    order_id: str,
    read: OrderRead,
    event: str,
    cause: str,
    now: datetime,
    steps: Sequence[dict[str, Any]],
) -> None:
    """`refresh_order` on the order and its attempts as just read, locked, in this transaction."""
    if read is None:
        if steps:
            await _write(s, _INSERT_TRANSITION, list(steps))
        return
    order, attempts = read
    status = order_status(AttemptStatus(r.status) for r in attempts)
    paid = [r for r in attempts if r.status in SETTLED] or [
        r for r in attempts if r.status == AttemptStatus.AUTHORIZED
    ]
    winner = paid[0] if paid else None
    tip = winner.tip if winner else 0
    derived = {
        "status": status.value,
        "tip": tip,
        "total": order_total(order.subtotal + order.tax, tip),
        "amount_captured": winner.amount_captured if winner else 0,
        "amount_refunded": winner.amount_refunded if winner else 0,
        "card_brand": winner.card_brand if winner else None,
        "card_last4": winner.card_last4 if winner else None,
    }
    current = {name: order._mapping[f"order_{name}"] for name in _ORDER_DERIVED}
    if order.order_status != status.value:
        step = {
            "order_id": order_id,
            "entity": "order",
            "from_status": order.order_status,
            "to_status": status.value,
            "event": event,
            "cause": cause[:255],
            "at": now,
        }
        steps = [*steps, step]
    if steps:
        await _write(s, _INSERT_TRANSITION, steps)
    if derived == current:
        return
    values = {f"new_{name}": value for name, value in derived.items()}
    await _write(s, _UPDATE_ORDER, {**values, "new_updated_at": now, "order_id": order_id})


def after_commit(svc: Services, applied: Applied, effects: Sequence[Effect]) -> None:
    """Wake the worker for new durable work and tell live clients (best effort, after commit)."""
    if applied.written is not None:
        svc.event_batches.remember(applied.written)
    if applied.capture_now:
        from countertop.backend.services.capture import capture_leased

        svc.spawn(capture_leased(svc, applied.written))
    elif any(isinstance(e, ScheduleCapture) for e in effects):
        svc.work_ready.set()
    svc.live.order_changed(applied.attempt.order_id)
    for effect in effects:
        if isinstance(effect, HoldReader | ReleaseReader):
            svc.live.reader_changed(effect.reader)
