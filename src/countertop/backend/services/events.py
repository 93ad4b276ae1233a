"""Stripe events: stored once, then applied to the attempt they concern, idempotently, in any order.

PaymentIntent and Charge events carry the object's state, which is applied as it is (the state
machine ignores anything older than what it knows). Reader events carry no payment state and a
failed action may be old news, so for them the PaymentIntent and the reader are re-read.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError

from countertop.backend.services.context import Services
from countertop.backend.services.readers import publish_reader_status
from countertop.backend.services.records import apply
from countertop.backend.services.sync import (
    attempt_for_payment_intent,
    mark_applied,
    sync_attempt,
)
from countertop.backend.store.payments import AttemptRow, WebhookEventRow
from countertop.domain.observations import from_charge, from_payment_intent

log = logging.getLogger("countertop.webhooks")
Json = dict[str, Any]

NEW, PENDING, DONE = "new", "pending", "done"


async def store_event(svc: Services, event: Json, payload: bytes, *, applied: bool) -> str:
    """Store the event once: NEW the first time, PENDING if stored but not applied, else DONE.

    `applied` stores it as applied already (an event about nothing of ours).
    """
    obj = (event.get("data") or {}).get("object") or {}
    row = WebhookEventRow(
        id=event["id"],
        type=str(event.get("type")),
        object_id=obj.get("id") if isinstance(obj, dict) else None,
        created=int(event.get("created") or 0),
        payload=payload.decode("utf-8", "replace"),
        received_at=svc.clock(),
        processed_at=svc.clock() if applied else None,
    )
    try:
        async with svc.db.session() as s, s.begin():
            s.add(row)
        return NEW
    except IntegrityError:
        async with svc.db.session() as s:
            existing = await s.get(WebhookEventRow, event["id"])
        return DONE if existing is None or existing.processed_at is not None else PENDING


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
    if event_type.startswith("terminal.reader.") and obj.get("id"):
        svc.spawn(publish_reader_status(svc, obj["id"]))
    payment_intent = _payment_intent_of(event_type, obj)
    row = await attempt_for_payment_intent(svc, payment_intent) if payment_intent else None
    stored = await store_event(svc, event, payload, applied=row is None)
    if stored == DONE:
        return False
    if row is None:  # not one of ours (or not yet known): kept, nothing to apply
        await mark_applied(svc, event["id"] if stored == PENDING else None)
        return True
    await apply_event(svc, event, row)
    return True


async def apply_event(svc: Services, event: Json, row: AttemptRow) -> None:
    """Apply one stored event; marks it applied in the same transaction as its state change."""
    event_id = event["id"]
    event_type = str(event.get("type"))
    obj = (event.get("data") or {}).get("object") or {}
    cause = f"webhook:{event_id} {event_type}"
    if event_type.startswith("payment_intent."):
        observed = from_payment_intent(obj, row.amount)
    elif event_type.startswith("charge.") and event_type != "charge.failed":
        observed = from_charge(obj, row.amount)
    else:
        observed = []
    if observed:
        await apply(svc, row.id, observed, cause, event_id=event_id)
    else:  # a reader event, a failure or a refund: read the current state from Stripe
        await sync_attempt(svc, row.id, cause, event_id=event_id)
