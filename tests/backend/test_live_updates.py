"""Live updates are coalesced: a burst of changes reaches the stream as one, latest, snapshot; a
reader is published from what Stripe last said about it, without asking Stripe again."""

from __future__ import annotations

import asyncio
from typing import Any

from countertop.backend.services.context import Services
from tests.backend.sse_support import EventStream, open_stream
from tests.backend.stack import Backend, Stripe
from tests.backend.test_live_flow import new_order


async def events_within(stream: EventStream, seconds: float) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            seen.append(await stream.event(timeout=left))
        except TimeoutError:
            break
    return seen


async def test_a_burst_of_order_changes_is_published_once(backend: Backend) -> None:
    svc: Services = backend.app.state.services
    demo = backend.demo
    async with backend.client() as http:
        order = await new_order(http, demo.location_id)
        path = f"/api/locations/{demo.location_id}/events"
        async with open_stream(http, path, {}) as stream:
            for _ in range(5):
                svc.live.order_changed(order["id"])
            seen = await events_within(stream, 1.0)

    orders = [data for event, data in seen if event == "order"]
    assert len(orders) == 1
    assert orders[0]["id"] == order["id"]
    assert orders[0]["status"] == "open"
    assert orders[0]["total"] == order["total"]


async def test_a_reader_is_published_from_stripes_last_word(
    backend: Backend, stripe_api: Stripe
) -> None:
    svc: Services = backend.app.state.services
    demo = backend.demo
    reader_id = demo.reader_ids[0]
    reader = (await stripe_api.http.get(f"/v1/terminal/readers/{reader_id}")).json()
    reader["label"] = "Front counter (as the event said)"
    # Stripe would refuse any read of the reader now: the snapshot must come from the event.
    await stripe_api.control(
        "POST",
        "faults",
        {"kind": "error", "method": "GET", "path": "/v1/terminal/readers/*", "status": 500},
    )
    async with backend.client() as http:
        path = f"/api/locations/{demo.location_id}/events"
        async with open_stream(http, path, {}) as stream:
            svc.live.reader_changed(reader_id, reader)
            seen = await events_within(stream, 1.0)
    await stripe_api.control("DELETE", "faults")

    readers = [data for event, data in seen if event == "reader"]
    assert len(readers) == 1
    assert readers[0]["id"] == reader_id
    assert readers[0]["label"] == "Front counter (as the event said)"
    assert readers[0]["busy_order_id"] is None
