"""Receipts for an order: built from Stripe's charge, emailed, stored as sent, and sent again.

The charge is read from Stripe each time a receipt is built (it holds the EMV fields); what was
sent is stored and never rewritten, and a resend sends the stored bodies byte for byte.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from countertop.backend.errors import ApiError
from countertop.backend.receipts.mailer import (
    SmtpConfig,
    SmtpFailed,
    SmtpNotConfigured,
    compose,
    send,
)
from countertop.backend.receipts.render import Paper, render_html, subject
from countertop.backend.services.attempts import not_found, stripe_unavailable
from countertop.backend.services.context import Services, new_id
from countertop.backend.services.orders import line_items
from countertop.backend.store import receipts as store
from countertop.backend.store.payments import AttemptRow, OrderRow
from countertop.backend.stripe_gateway import StripeFailure
from countertop.domain.receipt_text import render_text
from countertop.domain.receipts import (
    Address,
    LineItem,
    Merchant,
    OrderFacts,
    Receipt,
    refund_receipt,
    sale_receipt,
)

log = logging.getLogger("countertop.receipts")
Json = dict[str, Any]
# Attempts whose PaymentIntent carries the charge the customer paid with.
PAID_ATTEMPTS = ("authorized", "captured", "partially_refunded", "refunded")


@dataclass(frozen=True)
class Rendered:
    receipt: Receipt
    subject: str
    text: str
    html: str


def _no_payment(order: OrderRow) -> ApiError:
    return ApiError(
        409,
        "invalid_state",
        "No payment yet",
        f"Order {order.id} is {order.status}: there is no card payment to give a receipt for.",
    )


async def _paid_attempt(svc: Services, order: OrderRow) -> AttemptRow:
    async with svc.db.session() as s:
        query = (
            select(AttemptRow)
            .where(AttemptRow.order_id == order.id, AttemptRow.status.in_(PAID_ATTEMPTS))
            .order_by(AttemptRow.created_at.desc())
        )
        attempt = (await s.execute(query)).scalars().first()
    if attempt is None or attempt.payment_intent_id is None:
        raise _no_payment(order)
    return attempt


async def _order_facts(svc: Services, order: OrderRow) -> OrderFacts:
    async with svc.db.session() as s:
        items = await line_items(s, order.id)
    return OrderFacts(
        id=order.id,
        currency=order.currency,
        line_items=tuple(LineItem(i.description, i.quantity, i.unit_amount) for i in items),
        subtotal=order.subtotal,
        tax=order.tax,
        tip=order.tip,
        total=order.total,
    )


async def _merchant(svc: Services, location_id: str) -> Merchant:
    location = await svc.gateway.retrieve_location(location_id)
    name = str(location.get("display_name") or "")
    return Merchant(
        name=svc.settings.merchant_name or name,
        location_name=name,
        address=Address.from_dict(location.get("address")),
    )


async def build(svc: Services, order: OrderRow, refund_id: str | None = None) -> Receipt:
    """The receipt for the order's payment (or for one of its refunds), from Stripe's charge."""
    attempt = await _paid_attempt(svc, order)
    assert attempt.payment_intent_id is not None
    try:
        intent = await svc.gateway.retrieve_payment_intent(attempt.payment_intent_id)
        charge = intent.get("latest_charge")
        if not isinstance(charge, dict):
            raise _no_payment(order)
        refunds = await svc.gateway.list_refunds(payment_intent=attempt.payment_intent_id)
        merchant = await _merchant(svc, order.location_id)
    except StripeFailure as failure:
        raise stripe_unavailable(failure) from None
    facts = await _order_facts(svc, order)
    if refund_id is None:
        return sale_receipt(charge, facts, merchant, refunds)
    refund = next((r for r in refunds if r.get("id") == refund_id), None)
    if refund is None:
        raise not_found("refund", refund_id)
    return refund_receipt(charge, refund, facts, merchant)


def render(receipt: Receipt, paper: Paper = "80mm") -> Rendered:
    return Rendered(
        receipt, subject(receipt), render_text(receipt), render_html(receipt, paper=paper)
    )


def receipt_json(row: store.ReceiptRow) -> Json:
    return {
        "id": row.id,
        "order": row.order_id,
        "kind": row.kind,
        "refund": row.refund_id,
        "charge": row.charge_id,
        "channel": row.channel,
        "to": row.recipient,
        "subject": row.subject,
        "status": row.status,
        "error": row.error,
        "resent_of": row.resent_of,
        "sent_by": row.sent_by,
        "created": int(row.created_at.timestamp() * 1000),
        "intact": row.intact(),
    }


def _smtp(svc: Services) -> SmtpConfig:
    try:
        return SmtpConfig.from_url(svc.settings.smtp_url)
    except SmtpNotConfigured as missing:
        raise ApiError(
            503, "email_unavailable", "Email not configured", f"{missing}: receipts cannot be sent."
        ) from None


async def _deliver(
    svc: Services,
    order: OrderRow,
    to: str,
    subject_line: str,
    text: str,
    html: str,
    *,
    kind: str,
    refund_id: str | None,
    charge_id: str,
    sent_by: str | None,
    resent_of: str | None = None,
) -> Json:
    config = _smtp(svc)
    message = compose(config.sender, to, subject_line, text, html)
    error: str | None = None
    try:
        await send(config, message)
    except SmtpFailed as failed:
        log.warning("receipt for %s to the SMTP server failed: %s", order.id, failed)
        error = str(failed)
    row = store.ReceiptRow(
        id=new_id("rcpt"),
        order_id=order.id,
        kind=kind,
        refund_id=refund_id,
        charge_id=charge_id,
        channel="email",
        recipient=to,
        subject=subject_line,
        body_text=text,
        body_html=html,
        status="failed" if error else "sent",
        error=error,
        message_id=str(message["Message-ID"]),
        resent_of=resent_of,
        sent_by=sent_by,
        created_at=svc.clock(),
    )
    async with svc.db.session() as s, s.begin():
        await store.add(s, row)
    if error:
        raise ApiError(
            502,
            "email_unavailable",
            "Email not sent",
            f"The mail server did not take the receipt ({error}); it is safe to try again.",
            receipt=row.id,
        )
    return receipt_json(row)


async def email(
    svc: Services, order: OrderRow, to: str, *, refund_id: str | None, sent_by: str | None
) -> Json:
    """Build the receipt now, email it, and keep what was sent."""
    _smtp(svc)  # refuse before reading Stripe when email cannot be sent at all
    rendered = render(await build(svc, order, refund_id))
    return await _deliver(
        svc,
        order,
        to,
        rendered.subject,
        rendered.text,
        rendered.html,
        kind=rendered.receipt.kind,
        refund_id=refund_id,
        charge_id=rendered.receipt.charge_id,
        sent_by=sent_by,
    )


async def resend(
    svc: Services, order: OrderRow, receipt_id: str, to: str | None, *, sent_by: str | None
) -> Json:
    """Send a stored receipt again exactly as it was; the stored original is left as it is."""
    original = await stored(svc, order, receipt_id)
    return await _deliver(
        svc,
        order,
        to or original.recipient,
        original.subject,
        original.body_text,
        original.body_html,
        kind=original.kind,
        refund_id=original.refund_id,
        charge_id=original.charge_id,
        sent_by=sent_by,
        resent_of=original.resent_of or original.id,
    )


async def stored(svc: Services, order: OrderRow, receipt_id: str) -> store.ReceiptRow:
    async with svc.db.session() as s:
        row = await store.get(s, order.id, receipt_id)
    if row is None:
        raise not_found("receipt", receipt_id)
    return row


async def history(svc: Services, order: OrderRow) -> list[Json]:
    async with svc.db.session() as s:
        return [receipt_json(r) for r in await store.for_order(s, order.id)]


def body(row: store.ReceiptRow, fmt: Literal["html", "text"]) -> str:
    return row.body_html if fmt == "html" else row.body_text
