"""Shapes of the payment routes' answers, for the generated OpenAPI document only.

The routes return plain dicts built by the services; these models describe them (docs/api.md is
the contract) without re-validating every response.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    order_id: str | None = None


class LineItemOut(BaseModel):
    description: str
    quantity: int
    unit_amount: int
    amount: int


class PaymentErrorOut(BaseModel):
    code: str
    decline_code: str | None
    message: str
    operator_message: str


class CaptureErrorOut(BaseModel):
    code: str
    message: str


class AttemptOut(BaseModel):
    id: str
    status: str
    reader: str | None
    payment_intent: str | None
    amount: int
    tip: int
    currency: str
    last_error: PaymentErrorOut | None
    capture_error: CaptureErrorOut | None
    created: int


class TransitionOut(BaseModel):
    at: int
    entity: str
    from_: str | None = Field(default=None, alias="from")
    to: str
    event: str
    cause: str


class CardOut(BaseModel):
    brand: str | None
    last4: str | None


class OrderOut(BaseModel):
    id: str
    location: str
    status: str
    currency: str
    line_items: list[LineItemOut]
    subtotal: int
    tax: int
    tip: int
    total: int
    amount_captured: int
    amount_refunded: int
    card: CardOut | None
    created: int
    attempts: list[AttemptOut]
    history: list[TransitionOut]


class OrderList(BaseModel):
    data: list[OrderOut]


class ReaderActionOut(BaseModel):
    type: str | None
    status: str | None
    failure_code: str | None
    failure_message: str | None


class ReaderOut(BaseModel):
    id: str
    label: str | None
    serial_number: str | None
    device_type: str | None
    status: str
    location: str | None
    last_seen_at: int | None
    action: ReaderActionOut | None
    busy_order_id: str | None


class ReaderList(BaseModel):
    data: list[ReaderOut]


class LocationOut(BaseModel):
    id: str
    display_name: str | None
    address: dict[str, str]
    account: str | None = None


class LocationList(BaseModel):
    data: list[LocationOut]


class RefundOut(BaseModel):
    id: str
    amount: int | None
    currency: str | None
    status: str | None
    reason: str | None
    payment_intent: str | None
    created: int | None


class RefundFailureOut(BaseModel):
    code: str
    message: str | None


class InPersonRefundOut(BaseModel):
    id: str
    order: str
    reader: str
    payment_intent: str
    amount: int
    currency: str
    reason: str | None
    status: str = Field(description="pending, succeeded, failed or canceled")
    refund: str | None = Field(description="Stripe's refund (re_...) once the card was tapped")
    failure: RefundFailureOut | None
    created: int
    updated: int


class InPersonRefundList(BaseModel):
    data: list[InPersonRefundOut]


def answers(
    model: type[BaseModel] | None, success: int = 200, /, **errors: str
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its success body and its problem codes (`e409="reader_busy"`)."""
    documented: dict[int | str, dict[str, Any]] = {}
    if model is not None:
        documented[success] = {"model": model}
    for status, codes in errors.items():
        documented[int(status.removeprefix("e"))] = {
            "model": Problem,
            "description": f"Problem details; `code`: {codes}",
            "content": {"application/problem+json": {}},
        }
    return documented


COMMON = {"e400": "validation_error", "e401": "unauthenticated", "e404": "not_found"}
