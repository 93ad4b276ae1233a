"""A declined card is never paid; the retry runs on the same PaymentIntent and charges once."""

from __future__ import annotations

import pytest

from tests.backend.flows import create_order, get_order, present, wait_attempt, wait_order
from tests.backend.stack import Backend, Stripe

DECLINES = [
    ("4000000000000002", "card_declined", "generic_decline"),
    ("4000000000009995", "card_declined", "insufficient_funds"),
    ("4000000000009987", "card_declined", "lost_card"),
    ("4000000000009979", "card_declined", "stolen_card"),
    ("4000000000000069", "expired_card", "expired_card"),
    ("4000000000000119", "processing_error", "processing_error"),
    ("4000000000000127", "incorrect_cvc", "incorrect_cvc"),
]


@pytest.mark.parametrize(("card", "code", "decline_code"), DECLINES, ids=[d[2] for d in DECLINES])
async def test_each_decline_then_a_retry_on_the_same_payment_intent(
    backend: Backend, stripe_api: Stripe, card: str, code: str, decline_code: str
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=2500)
        started = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        attempt = started.json()
        await present(http, reader, card_number=card)
        declined = await wait_attempt(http, order["id"], "declined")
        assert declined["last_error"]["decline_code"] == decline_code
        assert declined["last_error"]["code"] == code
        assert declined["last_error"]["operator_message"]
        order_now = await get_order(http, order["id"])
        assert order_now["status"] == "in_payment" and order_now["amount_captured"] == 0
        free = await http.get(f"/api/readers/{reader}")
        assert free.json()["busy_order_id"] is None

        retried = await http.post(f"/api/orders/{order['id']}/payments/{attempt['id']}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "on_reader"
        assert retried.json()["payment_intent"] == attempt["payment_intent"]
        assert retried.json()["last_error"] is None
        await present(http, reader)
        paid = await wait_order(http, order["id"], "paid")

    assert [a["id"] for a in paid["attempts"]] == [attempt["id"]]
    intents = await stripe_api.payment_intents()
    assert [pi["id"] for pi in intents] == [attempt["payment_intent"]]
    assert intents[0]["status"] == "succeeded" and intents[0]["amount_received"] == 2500
    statuses = [h["to"] for h in paid["history"] if h["entity"].startswith("attempt:")]
    assert statuses == [
        "created",
        "created",
        "on_reader",
        "declined",
        "on_reader",
        "authorized",
        "captured",
    ]


async def test_a_card_that_needs_its_pin_is_retried_with_the_pin(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[1]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=1002)
        started = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        attempt = started.json()
        await present(http, reader)
        declined = await wait_attempt(http, order["id"], "declined")
        assert "PIN" in declined["last_error"]["operator_message"]
        # Starting the payment again resumes the same attempt and PaymentIntent.
        again = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        assert again.status_code == 201, again.text
        assert again.json()["id"] == attempt["id"]
        await present(http, reader, card_number="4001007020000002")
        await wait_order(http, order["id"], "paid")
    intents = await stripe_api.payment_intents()
    assert len(intents) == 1 and intents[0]["status"] == "succeeded"


async def test_retry_is_refused_unless_the_attempt_was_declined_or_failed(backend: Backend) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=700)
        started = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        attempt = started.json()
        retry = await http.post(f"/api/orders/{order['id']}/payments/{attempt['id']}/retry")
        assert retry.status_code == 409 and retry.json()["code"] == "invalid_state"
        twice = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        assert twice.status_code == 409 and twice.json()["code"] == "payment_in_progress"
        missing = await http.post(f"/api/orders/{order['id']}/payments/att_nope/retry")
        assert missing.status_code == 404
