"""Payments routes: start, retry, cancel and capture (see docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from countertop.backend.api.deps import services, visible_order
from countertop.backend.api.documented import COMMON, AttemptOut, OrderOut, RefundOut, answers
from countertop.backend.api.schemas import PaymentIn, RefundIn, RetryIn
from countertop.backend.auth import Principal, current_principal
from countertop.backend.services import capture, payments, refunds
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
    order = await visible_order(svc, principal, order_id)
    return await payments.start_payment(svc, order, body.reader, principal)


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
        e409="refund_exceeds_captured, invalid_state",
        e502="stripe_unavailable",
    ),
)
async def refund_order(
    order_id: str, principal: Caller, svc: Svc, body: RefundIn | None = None
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    body = body or RefundIn()
    return await refunds.refund_order(svc, order, body.amount, body.reason)
