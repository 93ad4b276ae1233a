"""A sale from order to captured payment, through the real HTTP stack and the emulator."""

from __future__ import annotations

from typing import Any

import httpx

from tests.backend.stack import Backend, Stripe, eventually


async def create_order(http: httpx.AsyncClient, location: str, **body: Any) -> dict[str, Any]:
    payload = {
        "location": location,
        "currency": "usd",
        "line_items": [
            {"description": "Flat white", "quantity": 2, "unit_amount": 450},
            {"description": "Croissant", "quantity": 1, "unit_amount": 375},
        ],
        "tax": 102,
        **body,
    }
    response = await http.post("/api/orders", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


async def order_in(http: httpx.AsyncClient, order_id: str, *statuses: str) -> dict[str, Any] | None:
    order = (await http.get(f"/api/orders/{order_id}")).json()
    return order if order["status"] in statuses else None


async def test_a_sale_is_authorized_on_the_reader_and_captured(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        assert (order["subtotal"], order["tax"], order["total"]) == (1275, 102, 1377)
        started = await http.post(f"/api/orders/{order['id']}/payments", json={"reader": reader})
        assert started.status_code == 201, started.text
        attempt = started.json()
        assert attempt["status"] == "on_reader" and attempt["payment_intent"].startswith("pi_")

        shown = await http.get(f"/api/readers/{reader}")
        assert shown.json()["busy_order_id"] == order["id"]

        presented = await http.post(f"/api/readers/{reader}/simulate", json={})
        assert presented.status_code == 200, presented.text
        paid = await eventually(lambda: order_in(http, order["id"], "paid"))

    assert paid["amount_captured"] == 1377
    assert paid["card"]["last4"]
    assert [a["status"] for a in paid["attempts"]] == ["captured"]
    intents = await stripe_api.payment_intents()
    assert len(intents) == 1
    pi = intents[0]
    assert pi["id"] == attempt["payment_intent"]
    assert pi["status"] == "succeeded" and pi["amount_received"] == 1377
    assert pi["capture_method"] == "manual"
    assert pi["metadata"]["order_id"] == order["id"]
    assert pi["metadata"]["attempt_id"] == attempt["id"]
    events = [(h["entity"], h["to"]) for h in paid["history"]]
    assert ("order", "paid") in events
    assert all(h["cause"] for h in paid["history"])
