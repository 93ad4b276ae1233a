"""Receipts from a sale made on the emulator: contents, email, the stored evidence and resends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, present, start, wait_order
from tests.backend.smtp_support import Inbox, parts, smtp_server
from tests.backend.stack import ADMIN, Backend, Stripe, running_backend

__all__ = ["smtp_server"]
EMV_LABELS = ("Application", "AID", "Account", "Verification", "Auth code", "ARC", "TVR", "TSI")


@pytest.fixture
async def shop(
    database_url: str, emulator: EmulatorServer, smtp_server: tuple[str, Inbox]
) -> AsyncIterator[Backend]:
    url, _ = smtp_server
    async with running_backend(
        database_url, emulator, COUNTERTOP_SMTP_URL=url, COUNTERTOP_MERCHANT_NAME="Corner Coffee"
    ) as backend:
        yield backend


async def paid_order(http: httpx.AsyncClient, backend: Backend) -> dict[str, Any]:
    """A sale on the demo reader, captured at once (the backend's default)."""
    reader = backend.demo.reader_ids[0]
    order = await create_order(http, backend.demo.location_id)
    await start(http, order["id"], reader)
    await present(http, reader)
    return await wait_order(http, order["id"], "paid")


async def charge_of(stripe_api: Stripe, order: dict[str, Any]) -> dict[str, Any]:
    pi = order["attempts"][-1]["payment_intent"]
    response = await stripe_api.http.get(
        f"/v1/payment_intents/{pi}", params={"expand[]": "latest_charge"}
    )
    charge: dict[str, Any] = response.json()["latest_charge"]
    return charge


async def test_receipt_of_an_emulator_sale_carries_every_emv_field(
    shop: Backend, stripe_api: Stripe
) -> None:
    async with shop.client() as http:
        order = await paid_order(http, shop)
        text = await http.get(f"/api/orders/{order['id']}/receipt", params={"format": "text"})
        html = await http.get(f"/api/orders/{order['id']}/receipt", params={"paper": "a4"})
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "script-src" not in html.headers["content-security-policy"]
    charge = await charge_of(stripe_api, order)
    present = charge["payment_method_details"]["card_present"]
    emv = present["receipt"]
    for body in (text.text, html.text):
        assert "CORNER COFFEE" in body.upper()
        assert present["last4"] in body and present["brand"].upper() in body
        for field in (
            "application_preferred_name",
            "dedicated_file_name",
            "authorization_response_code",
            "terminal_verification_results",
            "transaction_status_information",
            "authorization_code",
        ):
            assert emv[field] and emv[field] in body, field
        for label in EMV_LABELS:
            assert label in body, label
        assert "Flat white" in body and "$13.77" in body
    assert "size: A4" in html.text


async def test_email_arrives_and_the_sent_receipt_is_kept_unchanged_through_resends(
    shop: Backend, smtp_server: tuple[str, Inbox]
) -> None:
    _, inbox = smtp_server
    async with shop.client() as http:
        order = await paid_order(http, shop)
        shown = (
            await http.get(f"/api/orders/{order['id']}/receipt", params={"format": "text"})
        ).text
        sent = await http.post(
            f"/api/orders/{order['id']}/receipt/email", json={"to": "ana@example.com"}
        )
        assert sent.status_code == 201, sent.text
        first = sent.json()
        assert (first["status"], first["to"], first["kind"], first["intact"]) == (
            "sent",
            "ana@example.com",
            "sale",
            True,
        )

        [(envelope, message)] = inbox.messages
        assert envelope.rcpt_tos == ["ana@example.com"]
        assert message["Subject"] == "Your receipt from Corner Coffee: $13.77"
        text, html = parts(message)
        assert text.replace("\r\n", "\n") == shown
        assert "Visa" in html or "VISA" in html

        stored_text = (
            await http.get(
                f"/api/orders/{order['id']}/receipts/{first['id']}", params={"format": "text"}
            )
        ).text
        stored_html = (await http.get(f"/api/orders/{order['id']}/receipts/{first['id']}")).text
        assert stored_text == shown

        again = await http.post(
            f"/api/orders/{order['id']}/receipts/{first['id']}/resend",
            json={"to": "ben@example.com"},
        )
        assert again.status_code == 201, again.text
        resent = again.json()
        assert resent["resent_of"] == first["id"] and resent["to"] == "ben@example.com"

        history = (await http.get(f"/api/orders/{order['id']}/receipts")).json()["data"]
        assert [r["id"] for r in history] == [first["id"], resent["id"]]
        assert history[0] == first  # the original record did not move
        assert (
            await http.get(
                f"/api/orders/{order['id']}/receipts/{first['id']}", params={"format": "text"}
            )
        ).text == stored_text
        assert (
            await http.get(f"/api/orders/{order['id']}/receipts/{first['id']}")
        ).text == stored_html

    [_, (envelope2, message2)] = inbox.messages
    assert envelope2.rcpt_tos == ["ben@example.com"]
    assert message2["Subject"] == message["Subject"]
    assert parts(message2) == parts(message)


async def test_refund_receipt(shop: Backend, stripe_api: Stripe) -> None:
    async with shop.client() as http:
        order = await paid_order(http, shop)
        pi = order["attempts"][-1]["payment_intent"]
        refund = (
            await stripe_api.http.post(
                "/v1/refunds",
                data={"payment_intent": pi, "amount": "500", "reason": "requested_by_customer"},
            )
        ).json()
        got = await http.get(
            f"/api/orders/{order['id']}/receipt", params={"format": "text", "refund": refund["id"]}
        )
        sale = await http.get(f"/api/orders/{order['id']}/receipt", params={"format": "text"})
        missing = await http.get(
            f"/api/orders/{order['id']}/receipt", params={"refund": "re_nothere"}
        )
    assert got.status_code == 200, got.text
    lines = got.text.splitlines()
    assert any(line.startswith("REFUND TOTAL") and line.endswith("$5.00") for line in lines)
    assert refund["id"] in got.text and "requested by customer" in got.text
    assert any(
        line.startswith("Refunded") and line.endswith("-$5.00") for line in sale.text.splitlines()
    )
    assert any(line.startswith("NET") and line.endswith("$8.77") for line in sale.text.splitlines())
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_receipt_refusals(shop: Backend, database_url: str, emulator: EmulatorServer) -> None:
    async with shop.client() as http:
        open_order = (
            await http.post(
                "/api/orders",
                json={"location": shop.demo.location_id, "currency": "usd", "amount": 500},
            )
        ).json()
        unpaid = await http.get(f"/api/orders/{open_order['id']}/receipt")
        assert unpaid.status_code == 409 and unpaid.json()["code"] == "invalid_state"
        bad = await http.post(
            f"/api/orders/{open_order['id']}/receipt/email", json={"to": "not-an-address"}
        )
        assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
        fmt = await http.get(f"/api/orders/{open_order['id']}/receipt", params={"format": "pdf"})
        assert fmt.status_code == 400
        nothing = await http.get(f"/api/orders/{open_order['id']}/receipts/rcpt_none")
        assert nothing.status_code == 404
        assert (await http.get("/api/orders/ord_none/receipt")).status_code == 404
    async with shop.client(ADMIN) as admin:
        address = {
            "line1": "1 Pier",
            "city": "SF",
            "state": "CA",
            "postal_code": "94111",
            "country": "US",
        }
        other = await admin.post(
            "/api/locations", json={"display_name": "Pier", "address": address}
        )
        assert other.status_code == 201, other.text
        created = await admin.post(
            "/api/operators",
            json={"name": "Elsewhere", "role": "operator", "locations": [other.json()["id"]]},
        )
        assert created.status_code == 201, created.text
    async with shop.client(created.json()["credential"]) as stranger:
        hidden = await stranger.get(f"/api/orders/{open_order['id']}/receipt")
        assert hidden.status_code == 404


async def test_email_without_smtp_configured_is_refused(backend: Backend) -> None:
    async with backend.client() as http:
        order = await paid_order(http, backend)
        refused = await http.post(
            f"/api/orders/{order['id']}/receipt/email", json={"to": "ana@example.com"}
        )
        assert refused.status_code == 503 and refused.json()["code"] == "email_unavailable"
        assert (await http.get(f"/api/orders/{order['id']}/receipts")).json()["data"] == []
