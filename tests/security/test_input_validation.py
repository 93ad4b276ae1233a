"""Amounts, currencies and quantities: negative, zero, huge, of the wrong type or an unknown
currency are refused with a 400 naming the field, and no order or PaymentIntent is created."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.stack import Backend, Stripe
from tests.conftest import DATABASES

pytestmark = pytest.mark.parametrize("database_url", DATABASES, indirect=True)

ITEM = {"description": "Tea", "quantity": 1, "unit_amount": 300}


def cart(**item: Any) -> dict[str, Any]:
    return {"currency": "usd", "line_items": [{**ITEM, **item}]}


BAD_ORDERS: dict[str, dict[str, Any]] = {
    "negative amount": {"currency": "usd", "amount": -100},
    "zero amount": {"currency": "usd", "amount": 0},
    "huge amount": {"currency": "usd", "amount": 10**12},
    "amount as words": {"currency": "usd", "amount": "twelve"},
    "fractional amount": {"currency": "usd", "amount": 12.5},
    "amount as a list": {"currency": "usd", "amount": [100]},
    "amount as true": {"currency": "usd", "amount": True},
    "no amount and no cart": {"currency": "usd"},
    "unknown currency": {"currency": "xyz", "amount": 100},
    "currency with digits": {"currency": "us1", "amount": 100},
    "currency too long": {"currency": "usdd", "amount": 100},
    "currency as a number": {"currency": 840, "amount": 100},
    "negative quantity": cart(quantity=-1),
    "zero quantity": cart(quantity=0),
    "huge quantity": cart(quantity=10**9),
    "fractional quantity": cart(quantity=1.5),
    "quantity as words": cart(quantity="two"),
    "negative unit amount": cart(unit_amount=-300),
    "huge unit amount": cart(unit_amount=10**12),
    "total over Stripe's maximum": cart(quantity=10_000, unit_amount=99_999_999),
    "negative tax": {**cart(), "tax": -1},
    "huge tax": {**cart(), "tax": 10**12},
    "empty cart": {"currency": "usd", "line_items": []},
    "unknown field": {"currency": "usd", "amount": 100, "discount": 50},
}


async def test_bad_amounts_currencies_and_quantities_are_clear_400s(
    backend: Backend, stripe_api: Stripe
) -> None:
    location = backend.demo.location_id
    accepted = []
    async with backend.client() as http:
        for name, body in BAD_ORDERS.items():
            answer = await http.post("/api/orders", json={"location": location, **body})
            problem = answer.json()
            if answer.status_code != 400 or problem.get("code") != "validation_error":
                accepted.append((name, answer.status_code, answer.text[:160]))
                continue
            assert answer.headers["content-type"].startswith("application/problem+json"), name
            assert problem["detail"] or problem.get("errors"), name
        orders = (await http.get("/api/orders")).json()["data"]
    assert not accepted, [item[:2] for item in accepted]
    assert orders == []
    assert await stripe_api.payment_intents() == []


async def test_bad_tips_and_readers_are_refused_before_reaching_stripe(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await http.post(
            "/api/orders", json={"location": demo.location_id, "currency": "usd", "amount": 900}
        )
        assert order.status_code == 201, order.text
        order_id = order.json()["id"]
        for body in ({"reader": ""}, {"reader": 5}, {"reader": "tmr_x/../../v1"}, {}):
            answer = await http.post(f"/api/orders/{order_id}/payments", json=body)
            assert answer.status_code == 400, (body, answer.text)
        started = await http.post(f"/api/orders/{order_id}/payments", json={"reader": reader})
        assert started.status_code == 201, started.text
        for tip in (-1, 10**12, "lots", 1.5):
            answer = await http.post(f"/api/readers/{reader}/simulate", json={"amount_tip": tip})
            assert answer.status_code == 400, (tip, answer.text)
        for number in ("4242", "4242abcd42424242", 4242424242424242):
            answer = await http.post(
                f"/api/readers/{reader}/simulate", json={"card_number": number}
            )
            assert answer.status_code == 400, (number, answer.text)
        still = (await http.get(f"/api/orders/{order_id}")).json()
    assert still["status"] == "in_payment" and still["tip"] == 0
    assert len(await stripe_api.payment_intents()) == 1
