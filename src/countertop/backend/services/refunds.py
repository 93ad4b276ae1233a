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


async def _settled_attempt(svc: Services, order_id: str) -> AttemptRow | None:
    settled = [s.value for s in SETTLED]
    async with svc.db.session() as s:
        query = select(AttemptRow).where(
            AttemptRow.order_id == order_id, AttemptRow.status.in_(settled)
        )
        return (await s.execute(query)).scalars().first()


async def refund_order(
    svc: Services, order: OrderRow, amount: int | None, reason: str | None
) -> Json:
    """Refund all that remains captured, or `amount` of it (409 `refund_exceeds_captured`)."""
    attempt = await _settled_attempt(svc, order.id)
    if attempt is None or attempt.payment_intent_id is None:
        raise ApiError(
            409, "invalid_state", "Nothing to refund", f"Order {order.id} is {order.status}."
        )
    remaining = attempt.amount_captured - attempt.amount_refunded
    wanted = remaining if amount is None else amount
    if wanted <= 0 or wanted > remaining:
        raise ApiError(
            409,
            "refund_exceeds_captured",
            "Refund too large",
            f"{remaining} remains captured on order {order.id}; {wanted} was asked.",
        )
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
