"""A sale from order to captured payment, through the real HTTP stack and the emulator."""

from __future__ import annotations

from tests.backend.flows import (
    CART_TOTAL,
    create_order,
    get_order,
    present,
    start,
    wait_order,
)
from tests.backend.stack import Backend, Stripe, running_backend


async def test_a_sale_is_authorized_on_the_reader_and_captured(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id)
        assert (order["subtotal"], order["tax"], order["total"]) == (1275, 102, CART_TOTAL)
        assert order["status"] == "open"
        attempt = await start(http, order["id"], reader)
        assert attempt["status"] == "on_reader" and attempt["payment_intent"].startswith("pi_")
        assert (await get_order(http, order["id"]))["status"] == "in_payment"

        shown = await http.get(f"/api/readers/{reader}")
        assert shown.json()["busy_order_id"] == order["id"]
        assert shown.json()["action"]["type"] == "process_payment_intent"

        await present(http, reader)
        paid = await wait_order(http, order["id"], "paid")
        released = await http.get(f"/api/readers/{reader}")
        assert released.json()["busy_order_id"] is None

    assert paid["amount_captured"] == CART_TOTAL
    assert paid["card"] == {"brand": "visa", "last4": "4242"}
    assert [a["status"] for a in paid["attempts"]] == ["captured"]
    intents = await stripe_api.payment_intents()
    assert len(intents) == 1
    pi = intents[0]
    assert pi["id"] == attempt["payment_intent"]
    assert pi["status"] == "succeeded" and pi["amount_received"] == CART_TOTAL
    assert pi["capture_method"] == "manual"
    assert pi["payment_method_types"] == ["card_present"]
    assert pi["metadata"]["order_id"] == order["id"]
    assert pi["metadata"]["attempt_id"] == attempt["id"]
    transitions = [(h["entity"], h["from"], h["to"]) for h in paid["history"]]
    assert ("order", "authorized", "paid") in transitions
    assert (f"attempt:{attempt['id']}", "on_reader", "authorized") in transitions
    assert all(h["cause"] for h in paid["history"])


async def test_a_tip_on_the_reader_lands_in_the_order_once(
    backend: Backend, stripe_api: Stripe
) -> None:
    demo = backend.demo
    reader = demo.reader_ids[1]
    async with backend.client() as http:
        order = await create_order(http, demo.location_id, amount=2000)
        await start(http, order["id"], reader)
        await stripe_api.control("POST", "webhooks/faults", {"kind": "duplicate", "count": 20})
        await present(http, reader, amount_tip=300)
        paid = await wait_order(http, order["id"], "paid")
        await stripe_api.flush()
        after = await get_order(http, order["id"])
    assert paid["tip"] == 300 and paid["total"] == 2300 and paid["amount_captured"] == 2300
    assert after["tip"] == 300 and after["total"] == 2300
    assert after["attempts"][0]["tip"] == 300
    (pi,) = await stripe_api.payment_intents()
    assert pi["amount_received"] == 2300


async def test_manual_capture_waits_for_the_capture_request(
    database_url: str, emulator: object, stripe_api: Stripe
) -> None:
    async with running_backend(database_url, emulator, COUNTERTOP_AUTO_CAPTURE="0") as backend:  # type: ignore[arg-type]
        demo = backend.demo
        reader = demo.reader_ids[0]
        async with backend.client() as http:
            order = await create_order(http, demo.location_id, amount=1500)
            early = await http.post(f"/api/orders/{order['id']}/capture")
            assert early.status_code == 409 and early.json()["code"] == "invalid_state"
            await start(http, order["id"], reader)
            await present(http, reader)
            authorized = await wait_order(http, order["id"], "authorized")
            assert authorized["amount_captured"] == 0
            (pi,) = await stripe_api.payment_intents()
            assert pi["status"] == "requires_capture"
            captured = await http.post(f"/api/orders/{order['id']}/capture")
            assert captured.status_code == 200, captured.text
            assert captured.json()["status"] == "paid"
            again = await http.post(f"/api/orders/{order['id']}/capture")
            assert again.status_code == 200 and again.json()["status"] == "paid"
    (pi,) = await stripe_api.payment_intents()
    assert pi["status"] == "succeeded" and pi["amount_received"] == 1500


async def test_repeating_an_order_request_with_its_key_creates_one_order(backend: Backend) -> None:
    async with backend.client() as http:
        body = {"location": backend.demo.location_id, "currency": "usd", "amount": 990}
        headers = {"Idempotency-Key": "till-1-order-42"}
        first = await http.post("/api/orders", json=body, headers=headers)
        second = await http.post("/api/orders", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        listed = (await http.get("/api/orders")).json()["data"]
        assert [o["id"] for o in listed] == [first.json()["id"]]
        # The refused second write left nothing behind: one line item, one history step.
        (order,) = listed
        assert [(i["description"], i["amount"]) for i in order["line_items"]] == [("Amount", 990)]
        assert [(h["entity"], h["to"]) for h in order["history"]] == [("order", "open")]


async def test_bad_orders_are_refused_with_400(backend: Backend) -> None:
    location = backend.demo.location_id
    async with backend.client() as http:
        for body in (
            {"location": location, "currency": "usd"},
            {"location": location, "currency": "usd", "amount": 0},
            {"location": location, "currency": "usd", "amount": 1.5},
            {"location": location, "currency": "us dollars", "amount": 100},
            {"location": location, "currency": "usd", "line_items": [{"description": "x"}]},
            {"location": location, "currency": "usd", "line_items": [], "tax": -1},
            {
                "location": location,
                "currency": "usd",
                "line_items": [{"description": "Tea\u0000", "quantity": 1, "unit_amount": 1}],
            },
            {"location": "tml_\u0000", "currency": "usd", "amount": 100},
            {
                "location": location,
                "amount": 100,
                "line_items": [{"description": "Tea", "quantity": 1, "unit_amount": 100}],
            },
        ):
            response = await http.post("/api/orders", json=body)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["code"] == "validation_error"


async def test_odd_ids_in_paths_and_queries_are_not_found_or_refused(backend: Backend) -> None:
    async with backend.client() as http:
        for path in ("/api/orders/ord%00x", "/api/orders/" + "x" * 300, "/api/orders/%E2%82%AC"):
            response = await http.get(path)
            assert response.status_code == 404, (path, response.text)
        order = await create_order(http, backend.demo.location_id, amount=100)
        retry = await http.post(f"/api/orders/{order['id']}/payments/att%00/retry")
        assert retry.status_code == 404
        listed = await http.get("/api/orders", params={"location": "tml_\x00"})
        assert listed.status_code == 400 and listed.json()["code"] == "validation_error"
