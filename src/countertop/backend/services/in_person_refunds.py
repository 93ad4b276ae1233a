"""Refunding an Interac payment in person: the reader's `refund_payment`, then the customer's card.

Interac payments cannot be refunded through `/v1/refunds`. The operator picks a reader at the
order's location; we record the refund `pending` and hold the reader (one action at a time per
reader, one refund waiting per payment) in one transaction, then ask Stripe to put the refund on
the reader. When the customer taps the same card Stripe creates the refund, carrying our refund's
id in its metadata. Whichever says so first settles it: `terminal.reader.action_succeeded` or
`action_failed`, `refund.created` / `refund.updated`, or the sweep re-reading the reader and the
payment's refunds. `charge.refunded` (and the succeeded refunds themselves) move the order to
`partially_refunded` or `refunded`. Every path is idempotent and only a pending refund changes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from countertop.backend.errors import ApiError
from countertop.backend.services.attempts import not_found, stripe_unavailable
from countertop.backend.services.context import Services, new_id
from countertop.backend.services.payments import reader_busy, reader_offline, usable_reader
from countertop.backend.services.records import apply, reader_holder
from countertop.backend.services.refunds import payment_charge, refund_amount, settled_attempt
from countertop.backend.store.payments import AttemptRow, OrderRow, ReaderHoldRow
from countertop.backend.store.refunds import InPersonRefundRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.attempts import Refunded
from countertop.domain.in_person_refunds import (
    REFUND_KEY,
    RefundOutcome,
    RefundStatus,
    from_event,
    from_reader,
    from_refund,
    refundable,
    refunded_in_person,
    settle,
)

log = logging.getLogger("countertop.refunds")
Json = dict[str, Any]
EVENT_PREFIXES = ("terminal.reader.action_", "refund.")
CLEARED_MESSAGE = "The refund was cleared from the reader before the card was presented."


def refund_row_json(row: InPersonRefundRow) -> Json:
    failure = (
        {"code": row.failure_code, "message": row.failure_message} if row.failure_code else None
    )
    return {
        "id": row.id,
        "order": row.order_id,
        "reader": row.reader_id,
        "payment_intent": row.payment_intent_id,
        "amount": row.amount,
        "currency": row.currency,
        "reason": row.reason,
        "status": row.status,
        "refund": row.refund_id,
        "failure": failure,
        "created": int(row.created_at.timestamp()),
        "updated": int(row.updated_at.timestamp()),
    }


async def _pending_for(svc: Services, attempt_id: str) -> InPersonRefundRow | None:
    async with svc.db.session() as s:
        query = select(InPersonRefundRow).where(
            InPersonRefundRow.attempt_id == attempt_id,
            InPersonRefundRow.status == RefundStatus.PENDING.value,
        )
        return (await s.execute(query)).scalars().first()


def _in_progress(order_id: str, row: InPersonRefundRow) -> ApiError:
    return ApiError(
        409,
        "refund_in_progress",
        "Refund in progress",
        f"Refund {row.id} of order {order_id} waits for the card on reader {row.reader_id}; "
        "finish or clear it first.",
    )


async def start_in_person_refund(
    svc: Services,
    order: OrderRow,
    reader_id: str,
    amount: int | None,
    reason: str | None,
    who: Any,
) -> Json:
    """Put a refund of the order's Interac payment on a reader; the customer then taps the card."""
    attempt = await settled_attempt(svc, order)
    assert attempt.payment_intent_id is not None
    charge = await payment_charge(svc, attempt.payment_intent_id)
    if not refunded_in_person(charge):
        raise ApiError(
            409,
            "online_refund_required",
            "Refund online",
            f"Order {order.id} was not paid with Interac: POST /api/orders/{order.id}/refunds.",
        )
    pending = await _pending_for(svc, attempt.id)
    if pending is not None:
        raise _in_progress(order.id, pending)
    wanted = refund_amount(order.id, refundable(charge), amount)
    await usable_reader(svc, reader_id, order, who)
    hold = await reader_holder(svc, reader_id)
    if hold is not None:
        raise reader_busy(reader_id, hold.order_id)
    row = await _record(svc, order, attempt, reader_id, wanted, reason, who)
    metadata = {REFUND_KEY: row.id, "order_id": order.id, "attempt_id": attempt.id}
    if reason:
        metadata["reason"] = reason
    try:
        reader = await svc.gateway.refund_payment(
            reader_id,
            payment_intent=attempt.payment_intent_id,
            amount=wanted,
            metadata=metadata,
            idempotency_key=f"{row.id}:refund_payment",
        )
    except StripeFailure as failure:
        await _not_started(svc, row, failure)
    else:
        outcome = from_reader(reader)
        if outcome is not None and outcome.refund_row == row.id:
            await finish(svc, outcome, "api:refund_payment")
    return await refund_view(svc, order.id, row.id)


async def _record(
    svc: Services,
    order: OrderRow,
    attempt: AttemptRow,
    reader_id: str,
    amount: int,
    reason: str | None,
    who: Any,
) -> InPersonRefundRow:
    """The pending refund and its reader hold, together or not at all."""
    now = svc.clock()
    row = InPersonRefundRow(
        id=new_id("iprf"),
        order_id=order.id,
        attempt_id=attempt.id,
        location_id=order.location_id,
        reader_id=reader_id,
        payment_intent_id=attempt.payment_intent_id,
        amount=amount,
        currency=attempt.currency,
        reason=reason,
        status=RefundStatus.PENDING.value,
        requested_by=getattr(who, "id", None),
        created_at=now,
        updated_at=now,
    )
    try:
        async with svc.db.session() as s, s.begin():
            s.add(row)
            s.add(
                ReaderHoldRow(
                    reader_id=reader_id, attempt_id=attempt.id, order_id=order.id, created_at=now
                )
            )
    except IntegrityError:
        # The reader was taken, or this payment's card is already awaited on another reader.
        hold = await reader_holder(svc, reader_id)
        if hold is not None and hold.attempt_id != attempt.id:
            raise reader_busy(reader_id, hold.order_id) from None
        pending = await _pending_for(svc, attempt.id)
        if pending is not None:
            raise _in_progress(order.id, pending) from None
        raise reader_busy(reader_id, order.id) from None
    return row


async def _landed(svc: Services, row: InPersonRefundRow) -> bool:
    """Did the reader get the refund after all (the answer was lost or timed out)?"""
    try:
        reader = await svc.gateway.retrieve_reader(row.reader_id)
    except StripeFailure:
        return False
    action = reader.get("action") or {}
    details = action.get("refund_payment") or {} if isinstance(action, dict) else {}
    return (
        action.get("type") == "refund_payment"
        and (details.get("metadata") or {}).get(REFUND_KEY) == row.id
    )


async def _not_started(svc: Services, row: InPersonRefundRow, failure: StripeFailure) -> None:
    """The reader did not take the refund: record why, free the reader, tell the caller."""
    if (failure.network or failure.code == "terminal_reader_timeout") and await _landed(svc, row):
        return  # it is on the reader: the webhook or the sweep settles it
    failed = RefundOutcome(
        row.id, RefundStatus.FAILED, failure_code=failure.code, failure_message=failure.message
    )
    await finish(svc, failed, "api:refund_payment")
    if failure.code == "terminal_reader_offline":
        raise reader_offline(row.reader_id)
    if failure.code == "terminal_reader_busy":
        raise reader_busy(row.reader_id, None)
    if failure.network:
        raise stripe_unavailable(failure)
    raise ApiError(409, "invalid_state", "The reader refused the refund", failure.message)


async def finish(svc: Services, outcome: RefundOutcome, cause: str) -> bool:
    """Record what became of a refund (only a pending one changes, see `settle`); frees its reader.

    A succeeded refund also counts towards the payment's refunded amount at once, whether or not
    `charge.refunded` has arrived yet (the attempt keeps the larger of the two).
    """
    now = svc.clock()
    async with svc.db.session() as s, s.begin():
        row = await s.get(InPersonRefundRow, outcome.refund_row, with_for_update=True)
        if row is None:
            return False
        before = RefundStatus(row.status)
        after = settle(before, outcome.status)
        if after is before and (after is not RefundStatus.SUCCEEDED or row.refund_id):
            return False
        row.status = after.value
        row.refund_id = outcome.refund or row.refund_id
        row.failure_code = outcome.failure_code
        row.failure_message = outcome.failure_message
        row.updated_at = now
        if before is RefundStatus.PENDING:
            await s.execute(
                delete(ReaderHoldRow).where(
                    ReaderHoldRow.reader_id == row.reader_id,
                    ReaderHoldRow.attempt_id == row.attempt_id,
                )
            )
        attempt_id = row.attempt_id
        succeeded = after is RefundStatus.SUCCEEDED
        if succeeded:
            total = (
                await s.execute(
                    select(func.coalesce(func.sum(InPersonRefundRow.amount), 0)).where(
                        InPersonRefundRow.attempt_id == attempt_id,
                        InPersonRefundRow.status == RefundStatus.SUCCEEDED.value,
                    )
                )
            ).scalar_one()
    log.info("in-person refund %s is %s (%s)", outcome.refund_row, after.value, cause)
    if succeeded:
        await apply(svc, attempt_id, [Refunded(int(total))], cause)
    return True


async def note_event(svc: Services, event_type: str, obj: Json) -> None:
    """Settle one of our in-person refunds from a reader or refund event (a no-op otherwise)."""
    outcome = from_event(event_type, obj)
    if outcome is not None:
        await finish(svc, outcome, f"webhook:{event_type}")


async def resolve(svc: Services, row: InPersonRefundRow, *, give_up: bool, cause: str) -> None:
    """Ask Stripe what became of a pending refund: the reader first, then the payment's refunds.

    Still waiting on the reader, it is left alone unless `give_up` (then the reader action is
    canceled). Gone from the reader with no refund of ours at Stripe, it was cleared: canceled.
    """
    reader = await svc.gateway.retrieve_reader(row.reader_id)
    action = reader.get("action") or {}
    outcome = from_reader(reader)
    if outcome is not None and outcome.refund_row == row.id:
        await finish(svc, outcome, cause)
        return
    details = action.get("refund_payment") or {} if isinstance(action, dict) else {}
    ours = (details.get("metadata") or {}).get(REFUND_KEY) == row.id
    if ours and action.get("status") == "in_progress":
        if not give_up:
            return
        try:
            await svc.gateway.cancel_action(row.reader_id)
        except StripeFailure as failure:
            log.info("cancel_action on %s: %s", row.reader_id, failure)
            return  # the card is being read: next time
    for refund in await svc.gateway.list_refunds(payment_intent=row.payment_intent_id):
        found = from_refund(refund)
        if found is not None and found.refund_row == row.id:
            await finish(svc, found, cause)
            return
    cleared = RefundOutcome(
        row.id,
        RefundStatus.CANCELED,
        failure_code="reader_action_canceled",
        failure_message=CLEARED_MESSAGE,
    )
    await finish(svc, cleared, cause)


async def sweep_in_person_refunds(svc: Services, limit: int = 50) -> int:
    """Re-read refunds left pending past the webhook grace; give up past the reader timeout."""
    now = svc.clock()
    late = now - timedelta(seconds=svc.settings.webhook_grace_seconds)
    async with svc.db.session() as s:
        rows = list(
            (
                await s.execute(
                    select(InPersonRefundRow)
                    .where(
                        InPersonRefundRow.status == RefundStatus.PENDING.value,
                        InPersonRefundRow.created_at <= late,
                    )
                    .order_by(InPersonRefundRow.created_at)
                    .limit(limit)
                )
            ).scalars()
        )
    timeout = timedelta(seconds=svc.settings.reader_action_timeout_seconds)
    for row in rows:
        try:
            await resolve(svc, row, give_up=now - row.created_at >= timeout, cause="sweep")
        except StripeFailure as failure:
            log.warning("sweep could not re-read refund %s: %s", row.id, failure)
    return len(rows)


async def clear_refund_on_reader(svc: Services, reader_id: str, cause: str) -> None:
    """An operator cleared the reader: settle its pending refund from what Stripe says."""
    async with svc.db.session() as s:
        query = select(InPersonRefundRow).where(
            InPersonRefundRow.reader_id == reader_id,
            InPersonRefundRow.status == RefundStatus.PENDING.value,
        )
        rows = list((await s.execute(query)).scalars())
    for row in rows:
        try:
            await resolve(svc, row, give_up=True, cause=cause)
        except StripeFailure as failure:
            raise stripe_unavailable(failure) from None


async def refund_view(svc: Services, order_id: str, refund_id: str) -> Json:
    async with svc.db.session() as s:
        row = await s.get(InPersonRefundRow, refund_id)
    if row is None or row.order_id != order_id:
        raise not_found("refund", refund_id)
    return refund_row_json(row)


async def refunds_of_order(svc: Services, order_id: str) -> list[Json]:
    async with svc.db.session() as s:
        query = (
            select(InPersonRefundRow)
            .where(InPersonRefundRow.order_id == order_id)
            .order_by(InPersonRefundRow.created_at, InPersonRefundRow.id)
        )
        return [refund_row_json(r) for r in (await s.execute(query)).scalars()]
