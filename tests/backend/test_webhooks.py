"""Webhooks duplicated, reordered, delayed or lost end in the same state; forged ones change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest

from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, get_order, present, start, wait_order
from tests.backend.stack import Backend, Stripe, eventually, told_only_by_the_test


def outcome(order: dict[str, Any]) -> dict[str, Any]:
    """What a person would check: status, money, card, and each attempt's end state."""
    keys = ("status", "total", "tip", "amount_captured", "amount_refunded", "card")
    return {
        **{k: order[k] for k in keys},
        "attempts": [(a["status"], a["tip"]) for a in order["attempts"]],
    }


FAULTS = {
    "none": None,
    "duplicated": {"kind": "duplicate", "count": 50},
    "reordered": {"kind": "reorder", "count": 4},
    "delayed": {"kind": "delay", "count": 50, "delay_ms": 300},
    "dropped": {"kind": "drop", "count": None},
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_every_delivery_fault_ends_in_the_same_state(
    backend: Backend, stripe_api: Stripe, fault: str
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    if FAULTS[fault] is not None:
        await stripe_api.control("POST", "webhooks/faults", FAULTS[fault])
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=4200)
        attempt = await start(http, order["id"], reader)
        await present(http, reader, card_number="4000000000009995")  # declined first

        async def declined() -> bool:
            attempts = (await get_order(http, order["id"]))["attempts"]
            return attempts[0]["status"] == "declined"

        await eventually(declined)
        retry = await http.post(f"/api/orders/{order['id']}/payments/{attempt['id']}/retry")
        assert retry.status_code == 200, retry.text
        await present(http, reader, card_number="5555555555554444", amount_tip=150)
        await wait_order(http, order["id"], "paid")
        await stripe_api.control("DELETE", "webhooks/faults")
        await stripe_api.flush()
        final = await get_order(http, order["id"])
    assert outcome(final) == {
        "status": "paid",
        "total": 4350,
        "tip": 150,
        "amount_captured": 4350,
        "amount_refunded": 0,
        "card": {"brand": "mastercard", "last4": "4444"},
        "attempts": [("captured", 150)],
    }
    (pi,) = await stripe_api.payment_intents()
    assert pi["status"] == "succeeded" and pi["amount_received"] == 4350


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    at = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


async def _authorized_order(backend: Backend, http: httpx.AsyncClient) -> tuple[str, str]:
    """An order waiting for its card on a reader, and its PaymentIntent."""
    order = await create_order(http, backend.demo.location_id, amount=1800)
    attempt = await start(http, order["id"], backend.demo.reader_ids[0])
    return order["id"], attempt["payment_intent"]


def forged_success(payment_intent: str) -> bytes:
    """A `payment_intent.succeeded` that would mark the order paid, were it believed."""
    event = {
        "id": "evt_forged_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": payment_intent,
                "object": "payment_intent",
                "status": "succeeded",
                "amount": 1800,
                "amount_received": 1800,
                "amount_capturable": 0,
            }
        },
    }
    return json.dumps(event).encode()


async def test_forged_unsigned_and_stale_webhooks_are_refused_without_a_state_change(
    backend: Backend,
) -> None:
    secret: str = backend.app.state.webhook_secret
    async with backend.client() as http:
        order_id, payment_intent = await _authorized_order(backend, http)
        before = await get_order(http, order_id)
        payload = forged_success(payment_intent)
        attempts = {
            "unsigned": {},
            "forged": {"Stripe-Signature": sign(payload, "whsec_not_the_secret")},
            "stale": {"Stripe-Signature": sign(payload, secret, int(time.time()) - 301)},
            "tampered": {"Stripe-Signature": sign(payload.replace(b"1800", b"1900"), secret)},
            "garbled": {"Stripe-Signature": "t=abc,v1=zz"},
        }
        async with httpx.AsyncClient(base_url=backend.url) as stripe_side:
            for name, headers in attempts.items():
                response = await stripe_side.post(
                    "/webhooks/stripe",
                    content=payload,
                    headers={"Content-Type": "application/json", **headers},
                )
                assert response.status_code == 400, (name, response.text)
                assert response.json()["code"] == "invalid_signature"
        after = await get_order(http, order_id)
    assert after == before
    assert after["status"] == "in_payment"


async def test_a_signed_event_is_applied_once_however_often_it_arrives(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe
) -> None:
    # Only the copies sent here tell the backend that the card was authorized.
    async with told_only_by_the_test(database_url, emulator, stripe_api) as backend:
        secret: str = backend.app.state.webhook_secret
        async with backend.client() as http:
            order_id, payment_intent = await _authorized_order(backend, http)
            await present(http, backend.demo.reader_ids[0])
            authorized = await eventually(
                lambda: stripe_api.event("payment_intent.amount_capturable_updated", payment_intent)
            )
            payload = json.dumps(authorized).encode()
            answers = []
            async with httpx.AsyncClient(base_url=backend.url) as stripe_side:
                for _ in range(3):
                    response = await stripe_side.post(
                        "/webhooks/stripe",
                        content=payload,
                        headers={
                            "Content-Type": "application/json",
                            "Stripe-Signature": sign(payload, secret),
                        },
                    )
                    answers.append(response.json())
            order = await wait_order(http, order_id, "paid")
    assert answers[0] == {"received": True}
    assert answers[1] == answers[2] == {"received": True, "duplicate": True}
    causes = [h["cause"] for h in order["history"] if authorized["id"] in h["cause"]]
    assert len(causes) == 2  # the attempt's transition and the order's, once each
    assert order["amount_captured"] == 1800
