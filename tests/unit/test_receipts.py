from __future__ import annotations

from typing import Any

import pytest

from countertop.domain.receipt_text import PAPER_58MM, PAPER_80MM, render_text
from countertop.domain.receipts import (
    Address,
    LineItem,
    Merchant,
    OrderFacts,
    format_amount,
    refund_receipt,
    sale_receipt,
)

CREATED = 1_795_000_000  # 2026-11-18 11:06:40 UTC


def charge(**overrides: Any) -> dict[str, Any]:
    present: dict[str, Any] = {
        "brand": "visa",
        "last4": "4242",
        "read_method": "contact_emv",
        "funding": "credit",
        "capture_before": CREATED + 2 * 86400,
        "receipt": {
            "account_type": "credit",
            "application_cryptogram": "EF2B2C6B2E39F3F4",
            "application_preferred_name": "Visa Credit",
            "authorization_code": "123456",
            "authorization_response_code": "3030",
            "cardholder_verification_method": "offline_pin",
            "dedicated_file_name": "A0000000031010",
            "terminal_verification_results": "0080008000",
            "transaction_status_information": "6800",
        },
    }
    present.update(overrides.pop("present", {}))
    body: dict[str, Any] = {
        "id": "ch_3Q",
        "object": "charge",
        "amount": 1307,
        "amount_captured": 1307,
        "amount_refunded": 0,
        "captured": True,
        "created": CREATED,
        "currency": "usd",
        "payment_intent": "pi_3Q",
        "status": "succeeded",
        "payment_method_details": {"type": "card_present", "card_present": present},
    }
    body.update(overrides)
    return body


ORDER = OrderFacts(
    id="ord_1",
    currency="usd",
    line_items=(LineItem("Flat white", 2, 350), LineItem("Blueberry muffin", 1, 325)),
    subtotal=1025,
    tax=82,
    tip=200,
    total=1307,
)
MERCHANT = Merchant(
    name="Corner Coffee",
    location_name="Mission St",
    address=Address(
        line1="2000 Mission St", city="San Francisco", state="CA", postal_code="94110", country="US"
    ),
)


def test_sale_receipt_carries_every_emv_field_the_networks_require() -> None:
    receipt = sale_receipt(charge(), ORDER, MERCHANT)
    assert receipt.card is not None and receipt.emv is not None
    assert (receipt.card.brand, receipt.card.last4, receipt.card.entry_mode) == (
        "visa",
        "4242",
        "Chip",
    )
    assert receipt.emv.application_name == "Visa Credit"
    assert receipt.emv.aid == "A0000000031010"
    assert receipt.emv.arc == "3030"
    assert receipt.emv.tvr == "0080008000"
    assert receipt.emv.tsi == "6800"
    assert receipt.emv.account_type == "credit"
    assert receipt.emv.verification == "PIN verified"
    assert receipt.emv.authorization_code == "123456"
    assert receipt.payment_intent_id == "pi_3Q"
    assert receipt.amount == 1307


def test_text_receipt_prints_cart_totals_card_and_emv_fields() -> None:
    text = render_text(sale_receipt(charge(), ORDER, MERCHANT))
    assert all(len(line) <= PAPER_80MM for line in text.splitlines())
    for expected in (
        "CORNER COFFEE",
        "Mission St",
        "San Francisco, CA 94110",
        "2 x Flat white",
        "@ $3.50",
        "Blueberry muffin",
        "Order ord_1",
        "2026-11-18 11:06 UTC",
        "VISA **** 4242",
        "Chip",
        "Visa Credit",
        "A0000000031010",
        "3030",
        "0080008000",
        "6800",
        "Credit",
        "PIN verified",
        "123456",
    ):
        assert expected in text, expected
    lines = text.splitlines()
    assert any(line.startswith("TOTAL") and line.endswith("$13.07") for line in lines)
    assert any(line.startswith("Tip") and line.endswith("$2.00") for line in lines)
    assert any(line.startswith("Tax") and line.endswith("$0.82") for line in lines)
    assert "signature" not in text.lower()


def test_signature_verified_sale_leaves_a_line_to_sign() -> None:
    c = charge()
    c["payment_method_details"]["card_present"]["receipt"]["cardholder_verification_method"] = (
        "signature"
    )
    text = render_text(sale_receipt(c, ORDER, MERCHANT))
    assert "Cardholder signature" in text


def test_swiped_card_has_no_emv_block() -> None:
    c = charge(present={"read_method": "magnetic_stripe_track2", "receipt": None})
    receipt = sale_receipt(c, ORDER, MERCHANT)
    assert receipt.emv is None
    text = render_text(receipt)
    assert "Swipe" in text and "AID" not in text


def test_uncaptured_charge_says_the_amount_is_only_held() -> None:
    receipt = sale_receipt(charge(captured=False, amount_captured=0), ORDER, MERCHANT)
    assert receipt.amount == 1307
    text = render_text(receipt)
    assert "SALE (AUTHORIZED)" in text
    assert "amount held on card" in text


def test_refunds_made_since_the_sale_show_with_the_net_amount() -> None:
    refunds = [
        {
            "id": "re_2",
            "amount": 300,
            "reason": None,
            "status": "succeeded",
            "created": CREATED + 9,
        },
        {
            "id": "re_1",
            "amount": 100,
            "reason": "duplicate",
            "status": "failed",
            "created": CREATED,
        },
    ]
    receipt = sale_receipt(charge(), ORDER, MERCHANT, refunds=refunds)
    assert [r.id for r in receipt.refunds] == ["re_1", "re_2"]
    assert receipt.amount_refunded == 300
    lines = render_text(receipt).splitlines()
    assert any(line.startswith("Refunded") and line.endswith("-$3.00") for line in lines)
    assert any(line.startswith("NET") and line.endswith("$10.07") for line in lines)
    assert not any(line.endswith("-$1.00") for line in lines)  # the failed refund


def test_refunds_are_read_from_the_charge_when_not_given() -> None:
    c = charge(refunds={"object": "list", "data": [{"id": "re_9", "amount": 1307}]})
    assert sale_receipt(c, ORDER, MERCHANT).amount_refunded == 1307


def test_refund_receipt_names_the_card_amount_and_reason() -> None:
    refund = {"id": "re_7", "amount": 500, "reason": "requested_by_customer", "created": CREATED}
    receipt = refund_receipt(charge(), refund, ORDER, MERCHANT)
    text = render_text(receipt)
    assert receipt.kind == "refund" and receipt.amount == 500
    assert "REFUND" in text and "re_7" in text and "requested by customer" in text
    assert any(
        line.startswith("REFUND TOTAL") and line.endswith("$5.00") for line in text.splitlines()
    )
    assert "VISA **** 4242" in text
    assert "Flat white" not in text


def test_interac_charge_reads_interac_present_details() -> None:
    c = charge()
    details = c["payment_method_details"]
    details["interac_present"] = details.pop("card_present")
    details["type"] = "interac_present"
    details["interac_present"]["brand"] = "interac"
    details["interac_present"]["receipt"]["account_type"] = "savings"
    receipt = sale_receipt(c, ORDER, MERCHANT)
    assert receipt.card is not None and receipt.card.payment_method_type == "interac_present"
    assert "INTERAC **** 4242" in render_text(receipt)
    assert "Savings" in render_text(receipt)


def test_narrow_paper_wraps_long_descriptions_without_losing_amounts() -> None:
    order = OrderFacts(
        id="ord_2",
        currency="usd",
        line_items=(LineItem("Extra large seasonal pumpkin spice latte with oat milk", 1, 650),),
        subtotal=650,
        tax=0,
        tip=0,
        total=650,
    )
    text = render_text(
        sale_receipt(charge(amount=650, amount_captured=650), order, MERCHANT), width=PAPER_58MM
    )
    assert all(len(line) <= PAPER_58MM for line in text.splitlines())
    assert "oat milk" in text
    assert "Tax" not in text and "Tip" not in text


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1250, "usd", "$12.50"),
        (5, "usd", "$0.05"),
        (-300, "eur", "-€3.00"),
        (123456789, "gbp", "£1,234,567.89"),
        (500, "jpy", "JPY 500"),
        (1234, "kwd", "KWD 1.234"),
        (99, "chf", "CHF 0.99"),
    ],
)
def test_format_amount_follows_each_currencys_minor_unit(
    amount: int, currency: str, text: str
) -> None:
    assert format_amount(amount, currency) == text
