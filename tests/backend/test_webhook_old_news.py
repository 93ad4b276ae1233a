"""Late reader events about a sale already paid are acknowledged and change nothing."""

from __future__ import annotations

import json
import time

import httpx

from tests.backend.flows import create_order, get_order, present, start, wait_order
from tests.backend.stack import Backend
from tests.backend.test_webhooks import sign


def late_reader_failure(reader: str, payment_intent: str) -> bytes:
    """A `terminal.reader.action_failed` for a payment the reader took long ago."""
    event = {
        "id": "evt_late_reader_failure",
        "object": "event",
        "type": "terminal.reader.action_failed",
        "created": int(time.time()),
        "livemode": False,
        "data": {
            "object": {
                "id": reader,
                "object": "terminal.reader",
                "action": {
                    "type": "process_payment_intent",
                    "status": "failed",
                    "failure_code": "card_declined",
                    "failure_message": "The card was declined.",
                    "process_payment_intent": {"payment_intent": payment_intent},
                },
            }
        },
    }
    return json.dumps(event).encode()


async def _deliver(backend: Backend, payload: bytes) -> httpx.Response:
    secret: str = backend.app.state.webhook_secret
    async with httpx.AsyncClient(base_url=backend.url) as stripe_side:
        return await stripe_side.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload, secret)},
        )


async def test_a_late_reader_failure_after_payment_changes_nothing(backend: Backend) -> None:
    reader = backend.demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, backend.demo.location_id, amount=2500)
        attempt = await start(http, order["id"], reader)
        await present(http, reader, card_number="4242424242424242")
        await wait_order(http, order["id"], "paid")
        before = await get_order(http, order["id"])
        payload = late_reader_failure(reader, attempt["payment_intent"])
        first = await _deliver(backend, payload)
        again = await _deliver(backend, payload)
        after = await get_order(http, order["id"])
    assert first.status_code == 200 and first.json() == {"received": True}
    assert again.json() == {"received": True, "duplicate": True}
    assert after == before
    assert after["status"] == "paid"


async def test_a_body_that_is_not_utf8_is_refused(backend: Backend) -> None:
    response = await _deliver(backend, b"\xff\xfe not json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
