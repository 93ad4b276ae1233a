"""Plain-text receipts, fixed width for receipt printers (48 columns fit 80 mm paper, 32 fit 58 mm).

Only printable ASCII besides currency symbols, so a thermal printer's default code page copes.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, tzinfo

from countertop.domain.receipts import Receipt

PAPER_80MM = 48
PAPER_58MM = 32


def _pair(left: str, right: str, width: int) -> list[str]:
    """`left` flush left and `right` flush right on one line, wrapping `left` if both don't fit."""
    room = width - len(right) - 1
    if room < 1:
        return [left[:width], right.rjust(width)[:width]]
    lines = textwrap.wrap(left, room) or [""]
    last = lines[-1]
    return [*lines[:-1], last + " " * (width - len(last) - len(right)) + right]


def _centred(text: str, width: int) -> list[str]:
    return [line.center(width).rstrip() for line in textwrap.wrap(text, width)]


def render_text(receipt: Receipt, *, width: int = PAPER_80MM, tz: tzinfo = UTC) -> str:
    rule = "-" * width
    money = receipt.money
    merchant = receipt.merchant
    out: list[str] = []

    out += _centred(merchant.name.upper(), width)
    if merchant.location_name and merchant.location_name != merchant.name:
        out += _centred(merchant.location_name, width)
    for line in merchant.address.lines():
        out += _centred(line, width)
    if merchant.phone:
        out += _centred(merchant.phone, width)
    out += ["", *_centred(receipt.title, width), ""]

    when = receipt.created_at.astimezone(tz)
    out += _pair(f"Order {receipt.order.id}", when.strftime("%Y-%m-%d %H:%M %Z"), width)
    out.append(rule)

    if receipt.kind == "sale":
        for item in receipt.order.line_items:
            label = (
                item.description if item.quantity == 1 else f"{item.quantity} x {item.description}"
            )
            out += _pair(label, money(item.amount), width)
            if item.quantity != 1:
                out.append(f"  @ {money(item.unit_amount)}")
        if receipt.order.line_items:
            out.append(rule)
        out += _pair("Subtotal", money(receipt.order.subtotal), width)
        if receipt.order.tax:
            out += _pair("Tax", money(receipt.order.tax), width)
        if receipt.order.tip:
            out += _pair("Tip", money(receipt.order.tip), width)
        out += _pair("TOTAL", money(receipt.amount), width)
        for refund in receipt.refunds:
            label = "Refund pending" if refund.status == "pending" else "Refunded"
            if refund.status in {"succeeded", "pending"}:
                out += _pair(label, money(-refund.amount), width)
        if receipt.amount_refunded:
            out += _pair("NET", money(receipt.amount - receipt.amount_refunded), width)
    else:
        out += _pair("REFUND TOTAL", money(receipt.amount), width)
        if receipt.refund and receipt.refund.reason:
            out += _pair("Reason", receipt.refund.reason.replace("_", " "), width)
        if receipt.refund:
            out += _pair("Refund", receipt.refund.id, width)
    out.append(rule)

    card = receipt.card
    if card:
        out += _pair(f"{card.brand.upper()} **** {card.last4}", card.entry_mode, width)
    if receipt.emv:
        for label, value in receipt.emv.labelled():
            out += _pair(label, value, width)
    out += _pair("Charge", receipt.charge_id, width)
    if receipt.kind == "sale" and receipt.emv and receipt.emv.needs_signature:
        out += ["", "", "x" + "_" * (width - 1), *_centred("Cardholder signature", width)]
    if receipt.kind == "sale" and not receipt.captured:
        out += ["", *_centred("Authorization only: amount held on card", width)]
    out += ["", *_centred("Thank you", width)]
    return "\n".join(line.rstrip() for line in out) + "\n"
