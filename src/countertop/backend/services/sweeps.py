"""The sweep: re-read what webhooks should have told us, and give up on readers that went quiet.

An attempt on a reader whose outcome has not arrived within the webhook grace period is re-read
from Stripe (PaymentIntent, then reader). One still waiting for a card past the reader action
timeout has its reader action canceled and becomes `failed`, so the order can be retried or
canceled. Attempts left `created` with a PaymentIntent (an answer lost mid-request) are re-read too.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from countertop.backend import metrics
from countertop.backend.services.context import Services
from countertop.backend.services.payments import cancel_reader_action
from countertop.backend.services.records import apply
from countertop.backend.services.sync import attempt_row, sync_attempt
from countertop.backend.store.payments import AttemptRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.attempts import AttemptStatus, Failed, PaymentError

log = logging.getLogger("countertop.sweep")
TIMED_OUT = PaymentError("reader_action_timeout", "No card was presented before the deadline.")


async def sweep(svc: Services, limit: int = 100) -> int:
    """One pass; returns how many attempts were re-read."""
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
                        AttemptRow.status == AttemptStatus.CREATED,
                        AttemptRow.payment_intent_id.is_not(None),
                        AttemptRow.updated_at <= late,
                    )
                    .limit(limit)
                )
            ).scalars()
        )
    for attempt_id in on_reader:
        await _check(svc, attempt_id, check_reader=True)
    for attempt_id in stalled:
        await _check(svc, attempt_id, check_reader=False)
    return len(on_reader) + len(stalled)


async def _check(svc: Services, attempt_id: str, *, check_reader: bool) -> None:
    try:
        applied = await sync_attempt(svc, attempt_id, "sweep", check_reader=check_reader)
        metrics.record_sweep_action("late_attempt_reread")
        if applied is not None and applied.changed:
            metrics.record_sweep_action("late_attempt_updated")
        if applied is not None and applied.attempt.status is AttemptStatus.ON_READER:
            await _time_out(svc, attempt_id)
    except StripeFailure as failure:
        log.warning("sweep could not re-read %s: %s", attempt_id, failure)


async def _time_out(svc: Services, attempt_id: str) -> None:
    row = await attempt_row(svc, attempt_id)
    if row is None or row.sent_at is None or row.reader_id is None:
        return
    deadline = row.sent_at + timedelta(seconds=svc.settings.reader_action_timeout_seconds)
    if svc.clock() < deadline:
        return
    await cancel_reader_action(svc, row.reader_id)
    metrics.record_sweep_action("reader_action_canceled")
    # The card may have been presented at the last moment: Stripe's answer first.
    applied = await sync_attempt(svc, attempt_id, "sweep:reader_action_timeout", check_reader=False)
    if applied is None or applied.attempt.status is AttemptStatus.ON_READER:
        await apply(svc, attempt_id, [Failed(TIMED_OUT)], "sweep:reader_action_timeout")
