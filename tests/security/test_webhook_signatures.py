"""Webhook signatures: an event the backend cannot prove came from Stripe with its endpoint's
secret, within 300 seconds, is refused and changes nothing, even when it claims an order was paid.
A genuine event delivered again is acknowledged once and applied once."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import orjson
import pytest

from countertop.backend.store.payments import WebhookEventRow
from countertop.backend.stripe_gateway import WEBHOOK_EVENTS
from tests.backend.stack import Backend, Stripe
from tests.conftest import DATABASES
from tests.security.support import (
    TwoShops,
    order_of,
    signature,
    stripe_events,
    two_shops,
    wait_for_status,
)

pytestmark = pytest.mark.parametrize("database_url", DATABASES, indirect=True)


def forged_success(intent: dict[str, Any]) -> tuple[str, bytes]:
    """An event saying the order's PaymentIntent succeeded, though no card was ever presented."""
    paid = {**intent, "status": "succeeded", "amount_received": intent["amount"]}
    event_id = "evt_" + secrets.token_hex(12)
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2023-09-12",
        "created": int(time.time()),
        "data": {"object": paid},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "payment_intent.succeeded",
    }
    return event_id, orjson.dumps(event)


async def post(backend: Backend, payload: bytes, header: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    async with httpx.AsyncClient(base_url=backend.url) as http:
        return await http.post("/webhooks/stripe", content=payload, headers=headers)


async def stored(backend: Backend, event_id: str) -> bool:
    async with backend.app.state.db.session() as session:
        return await session.get(WebhookEventRow, event_id) is not None


async def another_endpoints_secret(stripe: Stripe) -> str:
    created = await stripe.http.post(
        "/v1/webhook_endpoints",
        data={"url": "http://127.0.0.1:9/elsewhere", "enabled_events[0]": "*"},
    )
    assert created.status_code == 200, created.text
    return str(created.json()["secret"])


async def test_unproven_events_are_refused_and_change_nothing(
    backend: Backend, stripe_api: Stripe
) -> None:
    shops: TwoShops = await two_shops(backend)
    secret: str = backend.app.state.webhook_secret
    before = await order_of(backend, shops.order_a)
    intent = await stripe_api.payment_intent(shops.payment_intent_a)
    event_id, payload = forged_success(intent)
    tampered_from = payload.replace(b'"payment_intent.succeeded"', b'"payment_intent.created"')
    other_secret = await another_endpoints_secret(stripe_api)
    stale = int(time.time()) - 301
    attempts = {
        "missing": (payload, None),
        "empty": (payload, ""),
        "garbage": (payload, "t=abc,v1=zz"),
        "forged": (payload, signature(payload, "whsec_" + secrets.token_hex(16))),
        "other endpoint's secret": (payload, signature(payload, other_secret)),
        "stale timestamp": (payload, signature(payload, secret, stale)),
        "tampered body": (payload, signature(tampered_from, secret)),
        "v0 scheme only": (payload, signature(payload, secret).replace("v1=", "v0=")),
        "not json": (b"paid!", signature(b"paid!", secret)),
    }
    for name, (body, header) in attempts.items():
        answer = await post(backend, body, header)
        assert answer.status_code == 400, (name, answer.status_code, answer.text)
        assert answer.json()["code"] in ("invalid_signature", "validation_error"), name
    assert not await stored(backend, event_id)
    after = await order_of(backend, shops.order_a)
    assert after == before
    assert after["status"] == "in_payment"
    assert (await stripe_api.payment_intent(shops.payment_intent_a))["status"] == (
        "requires_payment_method"
    )


async def test_a_delivered_event_sent_again_is_applied_once(
    backend: Backend, stripe_api: Stripe
) -> None:
    shops = await two_shops(backend)
    async with backend.client() as till:
        presented = await till.post(f"/api/readers/{shops.reader_a}/simulate", json={})
        assert presented.status_code == 200, presented.text
    paid = await wait_for_status(backend, shops.order_a, "paid")
    await stripe_api.flush()
    secret: str = backend.app.state.webhook_secret
    events = await stripe_events(stripe_api)
    mine = [
        e
        for e in events
        if e["type"] in WEBHOOK_EVENTS and shops.payment_intent_a in orjson.dumps(e).decode()
    ]
    assert {
        "terminal.reader.action_succeeded",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
    } <= {e["type"] for e in mine}
    for event in mine:
        payload = orjson.dumps(event)
        again = await post(backend, payload, signature(payload, secret))
        assert again.status_code == 200, again.text
        assert again.json().get("duplicate") is True, (event["type"], again.json())
        replayed_late = await post(
            backend, payload, signature(payload, secret, int(time.time()) - 400)
        )
        assert replayed_late.status_code == 400
    assert await order_of(backend, shops.order_a) == paid
    intents = await stripe_api.payment_intents()
    assert [pi["amount_received"] for pi in intents if pi["id"] == shops.payment_intent_a] == [1200]
