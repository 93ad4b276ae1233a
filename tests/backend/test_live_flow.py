"""The POS follows a real sale live: order and location streams over the real HTTP stack."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from countertop.emulator.server import EmulatorServer
from tests.backend.sse_support import EventStream, open_stream
from tests.backend.stack import Backend, Stripe, running_backend
from tests.conftest import fresh_database


async def new_order(http: httpx.AsyncClient, location: str) -> dict[str, Any]:
    body = {
        "location": location,
        "currency": "usd",
        "line_items": [{"description": "Espresso", "quantity": 2, "unit_amount": 325}],
        "tax": 50,
    }
    response = await http.post("/api/orders", json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def order_events_until(
    stream: EventStream, order_id: str, status: str, within: float = 30
) -> list[dict[str, Any]]:
    """Order events for `order_id` up to the first with `status` (other events skipped)."""
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        while not seen or seen[-1]["status"] != status:
            event, data = await stream.event()
            if event == "order" and data["id"] == order_id:
                seen.append(data)

    try:
        await asyncio.wait_for(read(), within)
    except TimeoutError:
        statuses = [o["status"] for o in seen]
        raise AssertionError(f"no {status!r} order event; saw {statuses}") from None
    return seen


async def test_pos_sees_the_sale_from_cart_to_paid(backend: Backend) -> None:
    demo = backend.demo
    reader = demo.reader_ids[0]
    async with backend.client() as http:
        order = await new_order(http, demo.location_id)
        order_path = f"/api/orders/{order['id']}/events"
        location_path = f"/api/locations/{demo.location_id}/events"
        async with (
            open_stream(http, order_path, {}) as order_stream,
            open_stream(http, location_path, {}) as location_stream,
        ):
            assert await order_stream.event() == ("order", order)
            started = await http.post(
                f"/api/orders/{order['id']}/payments", json={"reader": reader}
            )
            assert started.status_code == 201, started.text
            presented = await http.post(f"/api/readers/{reader}/simulate", json={})
            assert presented.status_code == 200, presented.text

            seen = await order_events_until(order_stream, order["id"], "paid")
            on_location = await order_events_until(location_stream, order["id"], "paid")

    assert "in_payment" in [o["status"] for o in seen]
    paid = seen[-1]
    assert paid["amount_captured"] == 700
    assert [a["status"] for a in paid["attempts"]] == ["captured"]
    assert on_location[-1] == paid


async def stop_webhooks_to(stripe_api: Stripe, backend: Backend) -> None:
    """Leave the backend without webhooks: Stripe would send each event to one endpoint URL."""
    endpoints = (await stripe_api.http.get("/v1/webhook_endpoints")).json()["data"]
    mine = [e["id"] for e in endpoints if e["url"].startswith(backend.url)]
    assert len(mine) == 1
    deleted = await stripe_api.http.delete(f"/v1/webhook_endpoints/{mine[0]}")
    assert deleted.status_code == 200, deleted.text


@pytest.mark.postgres
async def test_two_instances_on_one_database_show_each_others_changes(
    emulator: EmulatorServer, stripe_api: Stripe, tmp_path: Path
) -> None:
    """A change applied by one instance reaches the SSE clients of the other.

    Webhooks go to the first instance only, the sweep is held back on both and capture is
    explicit, so each change is applied by a known instance: the payment starts on the second
    (in_payment), the authorization arrives by webhook on the first (authorized), the capture is
    asked of the first (paid). Each stream must show all three.
    """
    quiet = {
        "COUNTERTOP_AUTO_CAPTURE": "false",
        "COUNTERTOP_SWEEP_INTERVAL": "3600",
        "COUNTERTOP_WEBHOOK_GRACE": "3600",
    }
    async with (
        fresh_database("postgres", tmp_path) as url,
        running_backend(url, emulator, **quiet) as first,
        running_backend(url, emulator, **quiet) as second,
        first.client() as on_first,
        second.client() as on_second,
    ):
        await stop_webhooks_to(stripe_api, second)
        demo = second.demo
        reader = demo.reader_ids[0]
        order = await new_order(on_second, demo.location_id)
        path = f"/api/orders/{order['id']}/events"
        async with (
            open_stream(on_first, path, {}) as first_stream,
            open_stream(on_second, path, {}) as second_stream,
        ):
            for stream in (first_stream, second_stream):
                assert await stream.event() == ("order", order)
            started = await on_second.post(
                f"/api/orders/{order['id']}/payments", json={"reader": reader}
            )
            assert started.status_code == 201, started.text
            for stream in (first_stream, second_stream):
                await order_events_until(stream, order["id"], "in_payment")
            presented = await on_second.post(f"/api/readers/{reader}/simulate", json={})
            assert presented.status_code == 200, presented.text
            for stream in (first_stream, second_stream):
                authorized = await order_events_until(stream, order["id"], "authorized")
                assert authorized[-1]["attempts"][0]["status"] == "authorized"
            captured = await on_first.post(f"/api/orders/{order['id']}/capture")
            assert captured.status_code == 200, captured.text
            for stream in (first_stream, second_stream):
                paid = await order_events_until(stream, order["id"], "paid")
                assert paid[-1]["amount_captured"] == 700
