"""Receipt routes (see docs/api.md): view or print, email, the sent history, resend."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from countertop.backend.api.deps import services, visible_order
from countertop.backend.auth import Principal, current_principal
from countertop.backend.receipts import service
from countertop.backend.receipts.render import CONTENT_SECURITY_POLICY
from countertop.backend.services.context import Services

router = APIRouter(prefix="/api/orders/{order_id}", tags=["receipts"])
Caller = Annotated[Principal, Depends(current_principal)]
Svc = Annotated[Services, Depends(services)]
Format = Annotated[Literal["html", "text"], Query(description="html or text")]
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
RefundId = Annotated[str | None, Query(max_length=64, pattern=r"^re_[A-Za-z0-9_]+$")]


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(max_length=320, pattern=EMAIL, description="The customer's email address.")
    refund: str | None = Field(
        default=None, max_length=64, pattern=r"^re_[A-Za-z0-9_]+$", description="A refund's id."
    )


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(default=None, max_length=320, pattern=EMAIL)


def _page(body: str, fmt: str) -> Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if fmt == "html":
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return HTMLResponse(body, headers=headers)
    return PlainTextResponse(body, headers=headers)


@router.get("/receipt", summary="The order's receipt, built now from Stripe's charge")
async def receipt(
    order_id: str,
    principal: Caller,
    svc: Svc,
    format: Format = "html",
    paper: Annotated[Literal["80mm", "a4"], Query()] = "80mm",
    refund: RefundId = None,
) -> Response:
    order = await visible_order(svc, principal, order_id)
    rendered = service.render(await service.build(svc, order, refund), paper)
    return _page(rendered.html if format == "html" else rendered.text, format)


@router.post("/receipt/email", status_code=201, summary="Email the receipt and keep what was sent")
async def email_receipt(
    order_id: str, body: EmailIn, principal: Caller, svc: Svc
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return await service.email(svc, order, body.to, refund_id=body.refund, sent_by=principal.id)


@router.get("/receipts", summary="Receipts sent for the order, oldest first")
async def sent_receipts(order_id: str, principal: Caller, svc: Svc) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return {"data": await service.history(svc, order)}


@router.get("/receipts/{receipt_id}", summary="A sent receipt exactly as the customer got it")
async def sent_receipt(
    order_id: str, receipt_id: str, principal: Caller, svc: Svc, format: Format = "html"
) -> Response:
    order = await visible_order(svc, principal, order_id)
    row = await service.stored(svc, order, receipt_id)
    return _page(service.body(row, format), format)


@router.post(
    "/receipts/{receipt_id}/resend", status_code=201, summary="Send a stored receipt again"
)
async def resend_receipt(
    order_id: str, receipt_id: str, body: ResendIn, principal: Caller, svc: Svc
) -> dict[str, Any]:
    order = await visible_order(svc, principal, order_id)
    return await service.resend(svc, order, receipt_id, body.to, sent_by=principal.id)
