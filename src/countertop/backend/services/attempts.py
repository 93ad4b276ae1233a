"""Loading and creating attempts, and what the API says about Stripe failures."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from countertop.backend.errors import ApiError
from countertop.backend.services.context import Services, new_id
from countertop.backend.services.orders import attempt_json
from countertop.backend.services.records import to_domain, write_attempt_and_refresh
from countertop.backend.store.base import as_model
from countertop.backend.store.payments import AttemptRow, OrderRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.attempts import AttemptStatus

_INSERT_ATTEMPT = insert(AttemptRow)


def stripe_unavailable(failure: StripeFailure) -> ApiError:
    return ApiError(
        502,
        "stripe_unavailable",
        "Stripe unavailable",
        f"Stripe could not be reached ({failure.message}); it is safe to retry the same request.",
    )


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not_found", "Not found", f"No such {what}: {ident}")


async def active_attempt(svc: Services, order_id: str) -> AttemptRow | None:
    async with svc.db.session() as s:
        query = select(AttemptRow).where(AttemptRow.active_order_id == order_id)
        return (await s.execute(query)).scalar_one_or_none()


async def attempt_of_order(svc: Services, order_id: str, attempt_id: str) -> AttemptRow:
    if not attempt_id.isascii() or not attempt_id.replace("_", "").isalnum():
        raise not_found("attempt", attempt_id[:64])
    async with svc.db.session() as s:
        row = await s.get(AttemptRow, attempt_id)
    if row is None or row.order_id != order_id:
        raise not_found("attempt", attempt_id)
    return row


async def attempt_view(svc: Services, attempt_id: str) -> dict[str, Any]:
    async with svc.db.session() as s:
        row = await s.get(AttemptRow, attempt_id)
    assert row is not None
    return attempt_json(row)


async def new_attempt(svc: Services, order: OrderRow, cause: str) -> AttemptRow:
    """The order's one active attempt: a new one, or the one a concurrent request just made."""
    now = svc.clock()
    auto_capture = svc.settings.auto_capture and svc.settings.capture_method == "manual"
    values: dict[str, Any] = {
        "id": new_id("att"),
        "order_id": order.id,
        "active_order_id": order.id,
        "payment_intent_id": None,
        "status": AttemptStatus.CREATED.value,
        "reader_id": None,
        "location_id": order.location_id,
        "amount": order.subtotal + order.tax,
        "currency": order.currency,
        "auto_capture": auto_capture,
        "tip": 0,
        "amount_captured": 0,
        "amount_refunded": 0,
        "process_count": 0,
        "capture_failures": 0,
        "last_error": None,
        "capture_error": None,
        "card_brand": None,
        "card_last4": None,
        "sent_at": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    created = {
        "order_id": order.id,
        "entity": f"attempt:{values['id']}",
        "from_status": None,
        "to_status": AttemptStatus.CREATED.value,
        "event": "created",
        "cause": cause[:255],
        "at": now,
    }
    try:
        async with svc.db.direct.begin() as conn:
            state = to_domain(SimpleNamespace(**values))
            await write_attempt_and_refresh(
                conn, _INSERT_ATTEMPT, values, state, "payment_started", cause, [created]
            )
    except IntegrityError:
        existing = await active_attempt(svc, order.id)
        if existing is None:
            raise
        return existing
    return as_model(AttemptRow, values)
