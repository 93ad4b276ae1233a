"""The sweep: re-read what webhooks should have told us, and give up on readers that went quiet.

An attempt on a reader whose outcome has not arrived within the webhook grace period is re-read
from Stripe (PaymentIntent, then reader). One still waiting for a card past the reader action
timeout has its reader action and its PaymentIntent canceled: the attempt becomes `canceled` (its
`last_error` says why) and the order can be charged afresh. Attempts left `created` (an answer
lost mid-request, a till that walked away, a crash) are re-read after the grace period and, past
the same timeout, canceled too, their PaymentIntent found again by its idempotency key if the
answer that named it was lost: no sale is left half-started and no PaymentIntent left open.
In-person refunds still pending past the grace period are settled the same way (reader, then the
payment's refunds) and taken off the reader past the timeout.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from countertop.backend import metrics
from countertop.backend.services.context import Services
from countertop.backend.services.in_person_refunds import sweep_in_person_refunds
from countertop.backend.services.payments import (
    cancel_intent,
    cancel_reader_action,
    ensure_payment_intent,
)
from countertop.backend.services.records import apply
from countertop.backend.services.sync import attempt_row, sync_attempt
from countertop.backend.store.payments import AttemptRow, OrderRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.attempts import AttemptStatus, Canceled, Failed, GivingUp, PaymentError

log = logging.getLogger("countertop.sweep")
TIMED_OUT = PaymentError("reader_action_timeout", "No card was presented before the deadline.")


async def sweep(svc: Services, limit: int = 100) -> int:
    """One pass; returns how many attempts were looked at."""
    now = svc.clock()
    late = now - timedelta(seconds=svc.settings.webhook_grace_seconds)
    async with svc.db.session() as s:
        on_reader = list(
            (
                await s.execute(
                    select(AttemptRow.id)
                    .where(AttemptRow.status == AttemptStatus.ON_READER, AttemptRow.sent_at <= late)
                    .limit(limit)
                )
            ).scalars()
        )
        stalled = list(
            (
                await s.execute(
                    select(AttemptRow.id)
                    .where(
                        AttemptRow.status == AttemptStatus.CREATED, AttemptRow.updated_at <= late
                    )
                    .limit(limit)
                )
            ).scalars()
        )
    for attempt_id in on_reader:
        await _check(svc, attempt_id, check_reader=True)
    for attempt_id in stalled:
        await _check(svc, attempt_id, check_reader=False)
    refunds = await sweep_in_person_refunds(svc, limit)
    return len(on_reader) + len(stalled) + refunds


async def _check(svc: Services, attempt_id: str, *, check_reader: bool) -> None:
    try:
        applied = await sync_attempt(svc, attempt_id, "sweep", check_reader=check_reader)
        metrics.record_sweep_action("late_attempt_reread")
        if applied is not None and applied.changed:
            metrics.record_sweep_action("late_attempt_updated")
        row = await attempt_row(svc, attempt_id)
        if row is not None and row.status in (AttemptStatus.ON_READER, AttemptStatus.CREATED):
            await _give_up_if_too_old(svc, row)
    except StripeFailure as failure:
        log.warning("sweep could not re-read %s: %s", attempt_id, failure)


async def _give_up_if_too_old(svc: Services, row: AttemptRow) -> None:
    since = row.sent_at if row.status == AttemptStatus.ON_READER else row.created_at
    deadline = (since or row.created_at) + timedelta(
        seconds=svc.settings.reader_action_timeout_seconds
    )
    if svc.clock() < deadline:
        return
    cause = "sweep:reader_action_timeout"
    if row.status == AttemptStatus.ON_READER and row.reader_id:
        await cancel_reader_action(svc, row.reader_id)
        metrics.record_sweep_action("reader_action_canceled")
        # The card may have been presented at the last moment: Stripe's answer first.
        applied = await sync_attempt(svc, row.id, cause, check_reader=False)
        if applied is not None and applied.attempt.status is not AttemptStatus.ON_READER:
            return
    if row.payment_intent_id is None:
        async with svc.db.session() as s:
            order = await s.get(OrderRow, row.order_id)
        if order is None:
            return
        await ensure_payment_intent(svc, row, order, cause)
        row = await attempt_row(svc, row.id) or row
    if row.payment_intent_id is None:
        await apply(svc, row.id, [Failed(TIMED_OUT), Canceled()], cause)
    else:
        # The reason is kept before Stripe is asked: its `payment_intent.canceled` may be
        # applied before the answer to the cancel is, and it does not say why.
        await apply(svc, row.id, [GivingUp(TIMED_OUT)], cause)
        await cancel_intent(svc, row.id, row.payment_intent_id, [Failed(TIMED_OUT)], cause)
