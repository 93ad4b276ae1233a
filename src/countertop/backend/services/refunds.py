"""Refunds of a captured payment through `/v1/refunds` (online; Interac is refunded in person)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from countertop.backend.errors import ApiError
from countertop.backend.services.attempts import stripe_unavailable
from countertop.backend.services.context import Services
from countertop.backend.services.sync import sync_attempt
from countertop.backend.store.payments import AttemptRow, OrderRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.attempts import SETTLED
from countertop.domain.in_person_refunds import accepts_interac, refunded_in_person

Json = dict[str, Any]


def refund_json(refund: Json) -> Json:
    return {
        "id": refund["id"],
        "amount": refund.get("amount"),
        "currency": refund.get("currency"),
        "status": refund.get("status"),
        "reason": refund.get("reason"),
        "payment_intent": refund.get("payment_intent"),
        "created": refund.get("created"),
    }


async def settled_attempt(svc: Services, order: OrderRow) -> AttemptRow:
    """The order's captured attempt (409 `invalid_state` when nothing was captured)."""
    settled = [s.value for s in SETTLED]
    async with svc.db.session() as s:
        query = select(AttemptRow).where(
            AttemptRow.order_id == order.id, AttemptRow.status.in_(settled)
        )
        attempt = (await s.execute(query)).scalars().first()
    if attempt is None or attempt.payment_intent_id is None:
        raise ApiError(
            409, "invalid_state", "Nothing to refund", f"Order {order.id} is {order.status}."
        )
    return attempt


def refund_amount(order_id: str, remaining: int, amount: int | None) -> int:
    """`amount`, or all that remains; 409 `refund_exceeds_captured` past what remains."""
    wanted = remaining if amount is None else amount
    if wanted <= 0 or wanted > remaining:
        raise ApiError(
            409,
            "refund_exceeds_captured",
            "Refund too large",
            f"{remaining} remains captured on order {order_id}; {wanted} was asked.",
        )
    return wanted


async def payment_charge(svc: Services, payment_intent: str) -> Json:
    """The payment's charge as Stripe has it now (refunded amount, payment method type)."""
    try:
        intent = await svc.gateway.retrieve_payment_intent(payment_intent)
    except StripeFailure as failure:
        raise stripe_unavailable(failure) from None
    charge = intent.get("latest_charge")
    return charge if isinstance(charge, dict) else {}


def card_present_required(order_id: str) -> ApiError:
    return ApiError(
        409,
        "refund_requires_card_present",
        "Refund in person",
        f"Order {order_id} was paid with Interac, which is refunded only with the card on a "
        f"reader: POST /api/orders/{order_id}/in_person_refunds.",
    )


async def refund_order(
    svc: Services, order: OrderRow, amount: int | None, reason: str | None
) -> Json:
    """Refund all that remains captured, or `amount` of it (409 `refund_exceeds_captured`).

    Interac payments are refused (409 `refund_requires_card_present`): they are refunded on a
    reader, see `in_person_refunds`.
    """
    attempt = await settled_attempt(svc, order)
    assert attempt.payment_intent_id is not None
    # Interac exists in CAD only: other payments need no look at the charge.
    if accepts_interac(attempt.currency) and refunded_in_person(
        await payment_charge(svc, attempt.payment_intent_id)
    ):
        raise card_present_required(order.id)
    wanted = refund_amount(order.id, attempt.amount_captured - attempt.amount_refunded, amount)
    # Repeating the same request (same state, same amount) is the same refund at Stripe.
    key = f"{attempt.id}:refund:{attempt.amount_refunded}:{wanted}"
    try:
        refund = await svc.gateway.create_refund(
            payment_intent=attempt.payment_intent_id,
            amount=wanted,
            reason=reason,
            metadata={"order_id": order.id, "attempt_id": attempt.id},
            idempotency_key=key,
        )
    except StripeFailure as failure:
        if failure.network:
            raise stripe_unavailable(failure) from None
        raise ApiError(409, "invalid_state", "Stripe refused the refund", failure.message) from None
    # The order follows Stripe's charge (`amount_refunded`); a pending refund's webhook finishes it.
    await sync_attempt(svc, attempt.id, f"api:refund {refund['id']}", check_reader=False)
    return refund_json(refund)
