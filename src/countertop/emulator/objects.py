"""Builders for the objects a payment produces, with the keys of Stripe's own examples."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from countertop.emulator import cards
from countertop.emulator.cards import Card, Decline
from countertop.emulator.context import Ctx
from countertop.emulator.errors import DOCS
from countertop.emulator.ids import digits, hex_chars, new_id
from countertop.emulator.store import Obj

EXPIRY_MONTH = 12


def _expiry_year() -> int:
    return time.gmtime().tm_year + 3


def fingerprint(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()[:16]


def empty_address() -> dict[str, None]:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def billing_details() -> dict[str, Any]:
    return {"address": empty_address(), "email": None, "name": None, "phone": None, "tax_id": None}


def present_details(card: Card) -> dict[str, Any]:
    """The ``card_present`` / ``interac_present`` hash of a PaymentMethod."""
    return {
        "brand": card.brand,
        "brand_product": None,
        "cardholder_name": None,
        "country": card.country,
        "description": None,
        "exp_month": EXPIRY_MONTH,
        "exp_year": _expiry_year(),
        "fingerprint": fingerprint(card.number),
        "funding": card.funding,
        "issuer": None,
        "last4": card.last4,
        "networks": {"available": [card.brand], "preferred": None},
        "offline": None,
        "preferred_locales": ["en"],
        "read_method": card.read_method,
    }


def card_details(card: Card) -> dict[str, Any]:
    """The ``card`` hash of a card-not-present PaymentMethod."""
    return {
        "brand": card.brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "unchecked",
        },
        "country": card.country,
        "display_brand": card.brand,
        "exp_month": EXPIRY_MONTH,
        "exp_year": _expiry_year(),
        "fingerprint": fingerprint(card.number),
        "funding": card.funding,
        "generated_from": None,
        "last4": card.last4,
        "networks": {"available": [card.brand], "preferred": None},
        "regulated_status": None,
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def payment_method(ctx: Ctx, card: Card, method_type: str) -> Obj:
    details = card_details(card) if method_type == "card" else present_details(card)
    pm: Obj = {
        "id": new_id("pm_"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(),
        "created": ctx.now(),
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": method_type,
        method_type: details,
    }
    return ctx.account.add("payment_methods", pm)


def receipt(card: Card, decline: Decline | None) -> dict[str, Any]:
    aid, name = cards.APPLICATION.get(card.brand, ("A0000000031010", card.brand.title()))
    return {
        "account_type": cards.account_type(card),
        "application_cryptogram": hex_chars(16),
        "application_preferred_name": name,
        "authorization_code": None if decline else digits(6),
        "authorization_response_code": "3035" if decline else "3030",
        "cardholder_verification_method": card.cvm,
        "dedicated_file_name": aid,
        "terminal_verification_results": "0000008000" if card.cvm == "none" else "0080008000",
        "transaction_status_information": "0000" if card.read_method != "contact_emv" else "6800",
    }


def capture_window(card: Card, created: int) -> int:
    """Seconds until an uncaptured card_present authorization expires."""
    if card.brand == "visa":
        return created + 4 * 86400 + 18 * 3600
    return created + 2 * 86400


def method_details(
    card: Card,
    method_type: str,
    amount: int,
    decline: Decline | None,
    reader: Obj | None,
    capture_before: int | None,
) -> dict[str, Any]:
    if method_type == "card":
        details = card_details(card)
        details.update(
            {
                "amount_authorized": None if decline else amount,
                "authorization_code": None if decline else digits(6),
                "network": card.brand,
                "network_transaction_id": None if decline else digits(15),
            }
        )
        return {"type": "card", "card": details}
    present = {
        "amount_authorized": None if decline else amount,
        "brand": card.brand,
        "brand_product": None,
        "cardholder_name": None,
        "country": card.country,
        "description": None,
        "emv_auth_data": hex_chars(32),
        "exp_month": EXPIRY_MONTH,
        "exp_year": _expiry_year(),
        "fingerprint": fingerprint(card.number),
        "funding": card.funding,
        "generated_card": None,
        "iin": card.number[:6],
        "incremental_authorization_supported": False,
        "issuer": None,
        "last4": card.last4,
        "location": reader.get("location") if reader else None,
        "network": card.brand,
        "network_transaction_id": None if decline else digits(15),
        "offline": None,
        "overcapture_supported": False,
        "preferred_locales": ["en"],
        "read_method": card.read_method,
        "reader": reader["id"] if reader else None,
        "receipt": receipt(card, decline),
    }
    if capture_before is not None:
        present["capture_before"] = capture_before
    return {"type": method_type, method_type: present}


def outcome(decline: Decline | None) -> dict[str, Any]:
    if decline is None:
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network",
        "reason": decline.decline_code,
        "risk_level": "normal",
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def charge(
    ctx: Ctx,
    pi: Obj,
    pm: Obj,
    card: Card,
    amount: int,
    decline: Decline | None,
    reader: Obj | None,
    captured: bool,
) -> Obj:
    charge_id = new_id("ch_")
    created = ctx.now()
    method_type = pm["type"]
    capture_before = None
    if not decline and not captured and method_type == "card_present":
        capture_before = capture_window(card, created)
    obj: Obj = {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if captured and not decline else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": pi.get("application_fee_amount"),
        "balance_transaction": new_id("txn_") if captured and not decline else None,
        "billing_details": billing_details(),
        "calculated_statement_descriptor": "COUNTERTOP",
        "captured": bool(captured and not decline),
        "created": created,
        "currency": pi["currency"],
        "customer": pi.get("customer"),
        "description": pi.get("description"),
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi.get("metadata") or {}),
        "on_behalf_of": pi.get("on_behalf_of"),
        "outcome": outcome(decline),
        "paid": decline is None,
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": method_details(
            card, method_type, amount, decline, reader, capture_before
        ),
        "receipt_email": pi.get("receipt_email"),
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": pi.get("statement_descriptor"),
        "statement_descriptor_suffix": pi.get("statement_descriptor_suffix"),
        "status": "failed" if decline else "succeeded",
        "transfer_data": None,
        "transfer_group": pi.get("transfer_group"),
    }
    return ctx.account.add("charges", obj)


def card_error(decline: Decline, charge_id: str, pm: Obj) -> dict[str, Any]:
    """The error object of a decline, as found in ``last_payment_error`` and ``api_error``."""
    return {
        "type": "card_error",
        "code": decline.code,
        "decline_code": decline.decline_code,
        "doc_url": DOCS + decline.code.replace("_", "-"),
        "message": decline.message,
        "charge": charge_id,
        "payment_method": pm,
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
    }
