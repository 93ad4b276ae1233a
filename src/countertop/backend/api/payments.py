"""Payments routes: start, retry, cancel and capture (see docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from countertop.backend.api.deps import ID_PATTERN, services, visible_order
from countertop.backend.api.documented import (
    COMMON,
    AttemptOut,
    InPersonRefundList,
    InPersonRefundOut,
    OrderOut,
    RefundOut,
    answers,
)
from countertop.backend.api.schemas import InPersonRefundIn, PaymentIn, RefundIn, RetryIn
from countertop.backend.auth import Principal, current_principal
from countertop.backend.errors import ApiError
from countertop.backend.services import capture, in_person_refunds, payments, refunds
from countertop.backend.services.context import Services

router = APIRouter(prefix="/api/orders/{order_id}", tags=["payments"])
Caller = Annotated[Principal, Depends(current_principal)]
Svc = Annotated[Services, Depends(services)]


@router.post(
    "/payments",
    status_code=201,
    summary="Take the order's payment on a reader",
    responses=answers(
        AttemptOut,
        201,
        **COMMON,
        e409="reader_busy (with order_id), reader_offline, payment_in_progress, "
        "order_not_payable, invalid_state",
        e502="stripe_unavailable",
    ),
)
async def start_payment(
    order_id: str, body: PaymentIn, principal: Caller, svc: Svc
) -> dict[str, Any]:
    if not ID_PATTERN.match(order_id):
        raise ApiError(404, "not_found", "Not found", f"No such order: {order_id}")
    return await payments.start_payment(svc, principal, order_id, body.reader)


@router.post(
    "/payments/{attempt_id}/retry",
    summary="Retry after a decline, on the same PaymentIntent",
    responses=answers(
        AttemptOut,
        **COMMON,
        e409="reader_busy, reader_offline, payment_in_progress, invalid_state",
        e502="stripe_unavailable",
    ),
)
async def retry_payment(
    order_id: str,
    attempt_id: str,
    principal: Caller,
    svc: Svc,
    body: RetryIn | None = None,
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    reader = body.reader if body else None
    return await payments.retry_payment(svc, order, attempt_id, reader, principal)


@router.post(
    "/payments/{attempt_id}/cancel",
    summary="Cancel the reader action and PaymentIntent",
    responses=answers(AttemptOut, **COMMON, e409="invalid_state", e502="stripe_unavailable"),
)
async def cancel_payment(
    order_id: str, attempt_id: str, principal: Caller, svc: Svc
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return await payments.cancel_payment(svc, order, attempt_id)


@router.post(
    "/capture",
    summary="Capture the authorized payment now",
    responses=answers(OrderOut, **COMMON, e409="invalid_state", e502="stripe_unavailable"),
)
async def capture_order(order_id: str, principal: Caller, svc: Svc) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return await capture.capture_order(svc, order)


@router.post(
    "/refunds",
    status_code=201,
    summary="Refund all or part of the captured payment",
    responses=answers(
        RefundOut,
        201,
        **COMMON,
        e409="refund_exceeds_captured, refund_requires_card_present (Interac: refund it in "
        "person), invalid_state",
        e502="stripe_unavailable",
    ),
)
async def refund_order(
    order_id: str, principal: Caller, svc: Svc, body: RefundIn | None = None
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    body = body or RefundIn()
    return await refunds.refund_order(svc, order, body.amount, body.reason)


@router.post(
    "/in_person_refunds",
    status_code=201,
    summary="Refund an Interac payment on a reader (the customer taps the same card)",
    responses=answers(
        InPersonRefundOut,
        201,
        **COMMON,
        e409="refund_exceeds_captured, refund_in_progress, online_refund_required (not Interac: "
        "use /refunds), reader_busy (with order_id), reader_offline, invalid_state",
        e502="stripe_unavailable",
    ),
)
async def start_in_person_refund(
    order_id: str, body: InPersonRefundIn, principal: Caller, svc: Svc
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return await in_person_refunds.start_in_person_refund(
        svc, order, body.reader, body.amount, body.reason, principal
    )


@router.get(
    "/in_person_refunds",
    summary="The order's in-person refunds, oldest first",
    responses=answers(InPersonRefundList, **COMMON),
)
async def list_in_person_refunds(order_id: str, principal: Caller, svc: Svc) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return {"data": await in_person_refunds.refunds_of_order(svc, order.id)}


@router.get(
    "/in_person_refunds/{refund_id}",
    summary="One in-person refund: pending until the card is tapped, then succeeded or failed",
    responses=answers(InPersonRefundOut, **COMMON),
)
async def get_in_person_refund(
    order_id: str, refund_id: str, principal: Caller, svc: Svc
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return await in_person_refunds.refund_view(svc, order.id, refund_id)
