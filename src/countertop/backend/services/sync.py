"""Re-reading an attempt's PaymentIntent (and reader) from Stripe and applying what they say.

Used whenever a webhook leaves doubt (a reader event carries no PaymentIntent state), when a
command's answer was lost (network error, `terminal_reader_timeout`), and by the sweep for
attempts whose webhook is late or lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from countertop.backend.services.context import Services
from countertop.backend.services.records import Applied, apply, mark_event_applied
from countertop.backend.store.payments import AttemptRow
from countertop.domain.attempts import AttemptStatus, Declined, Failed, Observation, PaymentError
from countertop.domain.observations import (
    error_of,
    from_failed_action,
    from_payment_intent,
    reader_action_for,
)

Json = dict[str, Any]
CLEARED = PaymentError("reader_action_canceled", "The payment was cleared from the reader.")


async def attempt_row(svc: Services, attempt_id: str) -> AttemptRow | None:
    async with svc.db.session() as s:
        return await s.get(AttemptRow, attempt_id)


async def mark_applied(svc: Services, event_id: str | None) -> None:
    if event_id is None:
        return
    async with svc.db.session() as s, s.begin():
        await mark_event_applied(s, event_id, svc.clock())


def reader_observations(
    row: AttemptRow, reader: Json, payment_intent: Json, settled_before: datetime
) -> list[Observation]:
    """What the reader says about an attempt that is on it and not yet authorized.

    With the reader on another action (or none), the attempt's own action ended: a decline if the
    PaymentIntent recorded one, otherwise it was cleared. Attempts sent after `settled_before` are
    left alone, as the reader may not show their action yet.
    """
    action = reader_action_for(reader, payment_intent["id"])
    if action is not None:
        if action.get("status") == "failed":
            return [from_failed_action(action, payment_intent)]
        return []  # in progress (the sweep cancels it past its deadline), or just succeeded
    if row.sent_at is not None and row.sent_at > settled_before:
        return []
    last = payment_intent.get("last_payment_error")
    if isinstance(last, dict) and last:
        return [Declined(error_of(last))]
    return [Failed(CLEARED)]


async def sync_attempt(
    svc: Services,
    attempt_id: str,
    cause: str,
    *,
    event_id: str | None = None,
    check_reader: bool = True,
    row: AttemptRow | None = None,
) -> Applied | None:
    """Read the attempt's PaymentIntent (and, while it is on a reader, the reader) and apply.

    `row` is the attempt as the caller just read it, if it has it (applying checks its version).
    """
    if row is None:
        row = await attempt_row(svc, attempt_id)
    if row is None or row.payment_intent_id is None:
        await mark_applied(svc, event_id)
        return None
    payment_intent = await svc.gateway.retrieve_payment_intent(row.payment_intent_id)
    observed: list[Observation] = list(from_payment_intent(payment_intent, row.amount))
    if not observed and check_reader and row.status == AttemptStatus.ON_READER and row.reader_id:
        reader = await svc.gateway.retrieve_reader(row.reader_id)
        grace = timedelta(seconds=svc.settings.webhook_grace_seconds)
        observed = reader_observations(row, reader, payment_intent, svc.clock() - grace)
    return await apply(svc, attempt_id, observed, cause, event_id=event_id)
