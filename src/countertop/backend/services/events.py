"""Stripe events: stored once, then applied to the attempt they concern, idempotently, in any order.

PaymentIntent and Charge events carry the object's state, which is applied as it is (the state
machine ignores anything older than what it knows), except a capture reported with no card for an
attempt that has none: the PaymentIntent is re-read with its charge (`lacks_card`). Reader events
carry no payment state and a failed action may be old news, so for them the PaymentIntent and the
reader are re-read, unless the attempt is already authorized or settled: then the event is stored
as applied in the same transaction that stores it, and Stripe is not asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from countertop.backend.services.context import Services
from countertop.backend.services.in_person_refunds import EVENT_PREFIXES as IN_PERSON_REFUND_EVENTS
from countertop.backend.services.in_person_refunds import note_event as note_in_person_refund
from countertop.backend.services.records import (
    AUTHORIZED_OR_SETTLED,
    MAX_TRIES,
    StaleWrite,
    announce,
    apply,
    apply_once,
    to_domain,
)
from countertop.backend.services.sync import mark_applied, sync_attempt
from countertop.backend.store.payments import AttemptRow, WebhookEventRow
from countertop.domain.attempts import Attempt, Captured, Observation, transition
from countertop.domain.errors import DomainError
from countertop.domain.observations import from_charge, from_payment_intent

log = logging.getLogger("countertop.webhooks")
# Only the outcome of a transition matters when checking for old news, not when it happened.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
Json = dict[str, Any]

# NEW: stored now, to be applied; SETTLED: stored now with nothing to apply (about nothing of
# ours, or old news); PENDING: stored before but not applied yet; DONE: applied before.
NEW, SETTLED, PENDING, DONE = "new", "settled", "pending", "done"
ALREADY_AUTHORIZED = AUTHORIZED_OR_SETTLED
OLD_NEWS_ONCE_AUTHORIZED = ("terminal.reader.", "payment_intent.", "charge.failed")


@dataclass(frozen=True)
class Target:
    """What applying an event needs to know of its attempt (as it was when the event arrived)."""

    attempt_id: str
    amount: int
    status: str
    state: Attempt | None = None
    row: AttemptRow | None = None


# Built once: Core statements on a plain connection, no ORM session on the hot path.
INSERT_ONCE = {
    name: dialect.insert(WebhookEventRow).on_conflict_do_nothing(
        index_elements=[WebhookEventRow.id]
    )
    for name, dialect in (("sqlite", sqlite_dialect), ("postgresql", postgresql_dialect))
}
_TARGET = select(*AttemptRow.__table__.columns).where(
    AttemptRow.payment_intent_id == bindparam("payment_intent")
)
# Events that may change their attempt lock its row while they are applied (PostgreSQL), so that
# the reports Stripe sends together for one payment (the charge's and the PaymentIntent's) wait
# for each other instead of both reading one version and one of them starting over.
_TARGET_FOR_UPDATE = _TARGET.with_for_update()
CARRIES_STATE = ("payment_intent.", "charge.")
_PROCESSED = select(WebhookEventRow.processed_at).where(WebhookEventRow.id == bindparam("id"))


async def store_event(
    svc: Services, event: Json, payload: bytes, payment_intent: str | None
) -> tuple[str, Target | None]:
    """Find the event's attempt, store the event once and apply what it says, in one transaction.

    Returns NEW the first time when applying needs Stripe (the caller then reads it), SETTLED when
    the event was stored and applied at once (PaymentIntent and charge events carry their state)
    or had nothing to apply, PENDING if stored before but not applied, else DONE, with the attempt
    of the event's PaymentIntent (None when it is not one of ours). The event's primary key, not
    a check, makes it stored once; the attempt's version makes a concurrent change retry.

    Events that arrive together share that transaction (`event_batches`); an event a batch
    leaves undecided is stored here on its own, in the same way.
    """
    together = await svc.event_batches.store(event, payload, payment_intent)
    if together is not None:
        return together
    event_type = str(event.get("type"))
    cause = f"webhook:{event['id']} {event_type}"
    carries_state = event_type.startswith(CARRIES_STATE)
    target_query = _TARGET_FOR_UPDATE if carries_state else _TARGET
    async with svc.one_at_a_time(payment_intent if carries_state else None):
        return await _store_event(svc, event, payload, payment_intent, target_query, cause)


async def _store_event(
    svc: Services,
    event: Json,
    payload: bytes,
    payment_intent: str | None,
    target_query: Any,
    cause: str,
) -> tuple[str, Target | None]:
    event_type = str(event.get("type"))
    obj = (event.get("data") or {}).get("object") or {}
    for _ in range(MAX_TRIES):
        now = svc.clock()
        try:
            async with svc.db.direct.begin() as conn:
                found = None
                if payment_intent:
                    found = (
                        await conn.execute(target_query, {"payment_intent": payment_intent})
                    ).first()
                target, settled, observed = decide(found, event_type, obj)
                values = event_values(event, payload, now, now if settled or observed else None)
                inserted = await conn.execute(INSERT_ONCE[conn.dialect.name], values)
                if inserted.rowcount != 1:
                    processed = (await conn.execute(_PROCESSED, {"id": event["id"]})).first()
                    done = processed is None or processed[0] is not None
                    return (DONE if done else PENDING), target
                result = None
                if observed and target is not None:
                    result = await apply_once(
                        conn, target.attempt_id, observed, cause, None, now, loaded=found
                    )
        except StaleWrite:
            continue
        if result is not None:
            announce(svc, *result, cause)
        return (SETTLED if settled or observed else NEW), target
    raise RuntimeError(f"event {event['id']}: its attempt kept changing under us")


def decide(found: Any, event_type: str, obj: Json) -> tuple[Target | None, bool, list[Observation]]:
    """What to do with an event, given its attempt's row (a row of its columns, or None).

    Returns the target, whether the event is settled as it is stored (about nothing of ours, or
    old news) and the state it brings to its attempt (nothing when settled).
    """
    if found is None:
        return None, True, []
    return judge(target_of(found), event_type, obj)


def target_of(found: Any) -> Target:
    """The target an attempt's row (a row of its columns) makes."""
    row = cast(AttemptRow, found)
    return Target(found.id, found.amount, found.status, to_domain(row), row)


def judge(target: Target, event_type: str, obj: Json) -> tuple[Target, bool, list[Observation]]:
    """`decide`, for an attempt's target already made (several events about one attempt)."""
    if is_old_news(event_type, obj, target):
        return target, True, []
    observed = observations(event_type, obj, target.amount)
    if lacks_card(observed, target):
        return target, False, []  # applied by reading Stripe (`apply_event`)
    return target, False, observed


def lacks_card(observed: list[Observation], target: Target) -> bool:
    """A capture reported without its card, of an attempt whose card is not known yet.

    A PaymentIntent event names its charge by id only, and the backend's endpoint takes no charge
    events, so a capture this process did not make (automatic capture, Interac, the Dashboard)
    would be recorded with no card, which receipts and refunds need. Such a report is applied by
    re-reading the PaymentIntent with its charge. An authorization's card comes with the capture.
    """
    known = target.state is not None and target.state.card is not None
    return not known and any(isinstance(o, Captured) and o.card is None for o in observed)


def event_values(event: Json, payload: bytes, now: datetime, processed: datetime | None) -> Json:
    """The row of a received event (`processed` when it was applied as it was stored)."""
    obj = (event.get("data") or {}).get("object") or {}
    return {
        "id": event["id"],
        "type": str(event.get("type")),
        "object_id": obj.get("id") if isinstance(obj, dict) else None,
        "created": int(event.get("created") or 0),
        "payload": payload.decode("utf-8", "replace"),
        "received_at": now,
        "processed_at": processed,
    }


def observations(event_type: str, obj: Json, amount: int) -> list[Observation]:
    """The settled state an event's object carries (PaymentIntent and charge events only)."""
    if event_type.startswith("payment_intent."):
        return from_payment_intent(obj, amount)
    if event_type.startswith("charge.") and event_type != "charge.failed":
        return from_charge(obj, amount)
    return []


def is_old_news(event_type: str, obj: Json, target: Target) -> bool:
    """An event with nothing to apply to its attempt.

    A PaymentIntent event with no outcome and no error (`payment_intent.created`, `.processing`)
    says nothing Stripe would need to be asked about. Statuses only move on from authorized (to
    captured or refunded, which PaymentIntent, charge and refund events carry): a reader event, an
    unsettled PaymentIntent or a failed charge about such an attempt is old news, and Stripe need
    not be asked. So is a PaymentIntent or charge event whose state the attempt already has (the
    duplicate reports of one sale: the charge and the PaymentIntent both say captured). The state
    machine only ever moves an attempt forward, so what is old news to the state read here is old
    news to any later state too.
    """
    observed = observations(event_type, obj, target.amount)
    if not observed:
        if event_type.startswith("payment_intent.") and not obj.get("last_payment_error"):
            return True  # created or processing: no outcome yet, and no decline to look into
        return target.status in ALREADY_AUTHORIZED and event_type.startswith(
            OLD_NEWS_ONCE_AUTHORIZED
        )
    if target.state is None:
        return False
    state = target.state
    try:
        for event in observed:
            state, effects = transition(state, event, _EPOCH)
            if effects:
                return False
    except DomainError:
        return False
    return state == target.state


def _payment_intent_of(event_type: str, obj: Json) -> str | None:
    if event_type.startswith("payment_intent."):
        return obj.get("id")
    if event_type.startswith("terminal.reader."):
        action = obj.get("action") or {}
        target = (action.get("process_payment_intent") or {}).get("payment_intent")
        return target.get("id") if isinstance(target, dict) else target
    target = obj.get("payment_intent")
    return target.get("id") if isinstance(target, dict) else target


async def receive_event(svc: Services, event: Json, payload: bytes) -> bool:
    """Store a verified event once and apply it; False when it had been applied before."""
    event_type = str(event.get("type"))
    obj = (event.get("data") or {}).get("object") or {}
    if event_type.startswith(IN_PERSON_REFUND_EVENTS):
        await note_in_person_refund(svc, event_type, obj)
    stored, target = await store_event(svc, event, payload, _payment_intent_of(event_type, obj))
    if stored == DONE:
        return False
    if event_type.startswith("terminal.reader.") and obj.get("id"):
        svc.live.reader_changed(obj["id"], obj)
    if stored == SETTLED:
        return True
    if target is None:  # not one of ours (or not yet known): kept, nothing to apply
        await mark_applied(svc, event["id"] if stored == PENDING else None)
        return True
    await apply_event(svc, event, target)
    return True


async def apply_event(svc: Services, event: Json, target: Target) -> None:
    """Apply one stored event; marks it applied in the same transaction as its state change."""
    event_id = event["id"]
    event_type = str(event.get("type"))
    obj = (event.get("data") or {}).get("object") or {}
    cause = f"webhook:{event_id} {event_type}"
    observed = observations(event_type, obj, target.amount)
    if observed and not lacks_card(observed, target):
        await apply(svc, target.attempt_id, observed, cause, event_id=event_id)
    elif is_old_news(event_type, obj, target):
        await mark_applied(svc, event_id)
    else:  # a reader event, a failure or a refund: read the current state from Stripe
        await sync_attempt(svc, target.attempt_id, cause, event_id=event_id, row=target.row)
