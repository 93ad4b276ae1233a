"""Two backend instances on one PostgreSQL database: a sale applied by one is seen live on both."""

from __future__ import annotations

from pathlib import Path

import pytest

from countertop.emulator.server import EmulatorServer
from tests.backend.flows import create_order, present, start, wait_order
from tests.backend.sse_support import EventStream, open_stream
from tests.backend.stack import running_backend
from tests.conftest import fresh_database

pytestmark = pytest.mark.postgres


async def until_status(stream: EventStream, order_id: str, status: str) -> list[str]:
    seen: list[str] = []
    while status not in seen:
        event, data = await stream.event(timeout=20)
        if event == "order" and data["id"] == order_id:
            seen.append(data["status"])
    return seen


async def test_an_sse_client_on_each_instance_follows_the_same_sale(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    # The first instance receives Stripe's webhooks; the second only shares the database.
    async with (
        fresh_database("postgres", tmp_path) as url,
        running_backend(url, emulator) as first,
        running_backend(
            url,
            emulator,
            COUNTERTOP_EMULATOR="0",
            COUNTERTOP_SWEEP_INTERVAL="3600",
            COUNTERTOP_WEBHOOK_GRACE="3600",
        ) as second,
    ):
        demo = first.demo
        reader = demo.reader_ids[0]
        async with first.client() as on_first, second.client() as on_second:
            order = await create_order(on_second, demo.location_id, amount=1250)
            path = f"/api/orders/{order['id']}/events"
            async with (
                open_stream(on_first, path, {}) as first_stream,
                open_stream(on_second, path, {}) as second_stream,
            ):
                await start(on_second, order["id"], reader)
                await present(on_first, reader)
                seen_first = await until_status(first_stream, order["id"], "paid")
                seen_second = await until_status(second_stream, order["id"], "paid")
            paid = await wait_order(on_second, order["id"], "paid")
    # The authorization and the capture are applied by the first instance (it gets Stripe's
    # webhooks and captures); the second streams them all the same. Live updates are coalesced
    # (services/live_updates.py): a capture that follows its authorization within the window is
    # published as one snapshot, so `authorized` may or may not be seen, alike on both.
    assert seen_first[-1] == seen_second[-1] == "paid"
    assert set(seen_second) == set(seen_first)
    assert paid["amount_captured"] == 1250
