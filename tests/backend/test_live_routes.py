"""The SSE routes: who may follow what, the snapshot first, changes after, heartbeats, clean-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from countertop.backend.api import events
from countertop.backend.live import LiveHub, publish_order, publish_reader
from countertop.backend.runner import SHUTDOWN_GRACE_SECONDS, StreamEndingServer
from tests.backend.auth_support import (
    ADMIN_CREDENTIAL,
    OPERATOR_CREDENTIAL,
    bearer,
    started_app,
)
from tests.backend.sse_support import EventStream, open_stream, serving

OPERATOR = bearer(OPERATOR_CREDENTIAL)
ADMIN = bearer(ADMIN_CREDENTIAL)
HOME, ELSEWHERE = "tml_Demo1", "tml_Elsewhere"


@dataclass
class Live:
    app: FastAPI
    http: httpx.AsyncClient
    orders: dict[str, dict[str, Any]]

    @property
    def hub(self) -> LiveHub:
        hub: LiveHub = self.app.state.hub
        return hub

    async def change(self, order: dict[str, Any]) -> None:
        """What the backend does after committing a change: store it, then announce it."""
        self.orders[order["id"]] = order
        await publish_order(self.hub, order)

    async def wait_for_no_subscribers(self) -> None:
        for _ in range(200):
            if self.hub.subscriber_count == 0:
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"{self.hub.subscriber_count} subscriptions left open")


def order(order_id: str, location: str, status: str, transitions: int) -> dict[str, Any]:
    history = [{"entity": "order", "to": status, "cause": f"step {n}"} for n in range(transitions)]
    return {"id": order_id, "location": location, "status": status, "history": history}


@asynccontextmanager
async def order_and_location_streams(live: Live) -> AsyncIterator[tuple[EventStream, EventStream]]:
    """An open order `ord_1` at HOME, followed on its own stream and on its location's."""
    await live.change(order("ord_1", HOME, "open", 1))
    async with (
        open_stream(live.http, "/api/orders/ord_1/events", OPERATOR) as order_stream,
        open_stream(live.http, f"/api/locations/{HOME}/events", OPERATOR) as location_stream,
    ):
        await order_stream.event()
        await location_stream.frame()
        yield order_stream, location_stream


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Live]:
    orders: dict[str, dict[str, Any]] = {}

    async def load_order(_: Request, order_id: str) -> dict[str, Any] | None:
        return orders.get(order_id)

    # Orders are stood in for here; the end-to-end tests follow real payments.
    monkeypatch.setattr(events, "load_order", load_order)
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    async with (
        started_app("sqlite", tmp_path) as app,
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        yield Live(app, http, orders)


@pytest.mark.parametrize("path", ["/api/orders/ord_1/events", "/api/locations/tml_Demo1/events"])
async def test_streams_need_a_credential(live: Live, path: str) -> None:
    response = await live.http.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


async def test_operators_follow_only_their_locations(live: Live) -> None:
    await live.change(order("ord_far", ELSEWHERE, "open", 1))
    location = await live.http.get(f"/api/locations/{ELSEWHERE}/events", headers=OPERATOR)
    assert location.status_code == 403
    assert location.json()["code"] == "forbidden_location"
    far = await live.http.get("/api/orders/ord_far/events", headers=OPERATOR)
    missing = await live.http.get("/api/orders/ord_missing/events", headers=OPERATOR)
    assert far.status_code == missing.status_code == 404
    assert far.json()["code"] == "not_found"
    assert live.hub.subscriber_count == 0


async def test_order_stream_sends_the_order_then_each_change(live: Live) -> None:
    await live.change(order("ord_1", HOME, "open", 1))
    async with open_stream(live.http, "/api/orders/ord_1/events", OPERATOR) as stream:
        assert (await stream.frame()).retry == events.RETRY_MILLISECONDS
        assert await stream.event() == ("order", order("ord_1", HOME, "open", 1))
        await live.change(order("ord_1", HOME, "in_payment", 2))
        await live.change(order("ord_1", HOME, "paid", 4))
        assert await stream.event() == ("order", order("ord_1", HOME, "in_payment", 2))
        assert await stream.event() == ("order", order("ord_1", HOME, "paid", 4))
    await live.wait_for_no_subscribers()


async def test_an_older_snapshot_arriving_late_is_not_shown(live: Live) -> None:
    await live.change(order("ord_1", HOME, "in_payment", 2))
    async with open_stream(live.http, "/api/orders/ord_1/events", ADMIN) as stream:
        assert (await stream.event())[1]["status"] == "in_payment"
        await live.change(order("ord_1", HOME, "paid", 4))
        await publish_order(live.hub, order("ord_1", HOME, "authorized", 3))  # published late
        await live.change(order("ord_1", HOME, "refunded", 5))
        assert (await stream.event())[1]["status"] == "paid"
        assert (await stream.event())[1]["status"] == "refunded"


async def test_location_stream_carries_its_orders_and_readers(live: Live) -> None:
    reader = {"id": "tmr_1", "location": HOME, "status": "offline", "action": None}
    async with open_stream(live.http, f"/api/locations/{HOME}/events", OPERATOR) as stream:
        assert (await stream.frame()).retry == events.RETRY_MILLISECONDS
        await live.change(order("ord_far", ELSEWHERE, "open", 1))
        await publish_reader(live.hub, {**reader, "location": ELSEWHERE})
        await live.change(order("ord_2", HOME, "open", 1))
        await publish_reader(live.hub, reader)
        assert await stream.event() == ("order", order("ord_2", HOME, "open", 1))
        assert await stream.event() == ("reader", reader)
    await live.wait_for_no_subscribers()


async def test_quiet_streams_send_heartbeats(live: Live) -> None:
    await live.change(order("ord_1", HOME, "open", 1))
    async with open_stream(live.http, "/api/orders/ord_1/events", OPERATOR) as stream:
        await stream.event()
        heartbeat = await stream.frame(timeout=5)
        assert heartbeat.comment is not None and heartbeat.event is None


async def test_after_a_resync_the_order_is_sent_again_and_location_streams_end(
    live: Live,
) -> None:
    async with order_and_location_streams(live) as (order_stream, location_stream):
        live.orders["ord_1"] = order("ord_1", HOME, "paid", 3)  # changed while events were lost
        live.hub.resync_all()
        assert await order_stream.event() == ("order", order("ord_1", HOME, "paid", 3))
        with pytest.raises(EOFError):
            await location_stream.frame()


async def test_a_client_that_goes_away_is_unsubscribed(live: Live) -> None:
    await live.change(order("ord_1", HOME, "open", 1))
    for path in ("/api/orders/ord_1/events", f"/api/locations/{HOME}/events"):
        async with open_stream(live.http, path, OPERATOR) as stream:
            await stream.frame()
            assert live.hub.subscriber_count == 1
        await live.wait_for_no_subscribers()


async def test_streams_end_when_the_hub_says_so(live: Live) -> None:
    async with order_and_location_streams(live) as (order_stream, location_stream):
        live.hub.end_streams()
        for stream in (order_stream, location_stream):
            with pytest.raises(EOFError):
                while True:
                    await stream.frame()
    await live.wait_for_no_subscribers()


async def test_server_shutdown_is_not_held_up_by_open_streams(tmp_path: Path) -> None:
    async with started_app("sqlite", tmp_path) as app:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
        server = StreamEndingServer(config, app)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
            open_stream(http, f"/api/locations/{HOME}/events", OPERATOR) as stream,
        ):
            await stream.frame()
            server.should_exit = True
            with pytest.raises(EOFError):
                await stream.frame()
            await asyncio.wait_for(task, SHUTDOWN_GRACE_SECONDS - 1)  # no waiting out the grace
