"""The in-process live hub: what a subscriber of a channel receives, and when it stops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from countertop.backend import metrics
from countertop.backend.live import (
    MemoryHub,
    create_hub,
    location_channel,
    order_channel,
    publish_order,
    publish_reader,
)


async def test_subscriber_receives_events_of_its_channel_in_order() -> None:
    hub = MemoryHub()
    async with hub.subscribe("order:ord_1") as events:
        await hub.publish("order:ord_1", "order", {"id": "ord_1", "status": "open"})
        await hub.publish("order:ord_2", "order", {"id": "ord_2", "status": "open"})
        await hub.publish("order:ord_1", "order", {"id": "ord_1", "status": "in_payment"})
        assert await events.get(1) == ("order", {"id": "ord_1", "status": "open"})
        assert await events.get(1) == ("order", {"id": "ord_1", "status": "in_payment"})
        assert await events.get(0.05) is None


async def test_every_subscriber_gets_its_own_copy() -> None:
    hub = MemoryHub()
    async with hub.subscribe("location:tml_1") as first, hub.subscribe("location:tml_1") as second:
        await hub.publish("location:tml_1", "reader", {"id": "tmr_1", "status": "online"})
        _, a = await first.get(1) or ("", {})
        _, b = await second.get(1) or ("", {})
        a["status"] = "changed by one screen"
        assert b == {"id": "tmr_1", "status": "online"}


async def test_event_data_is_plain_json() -> None:
    hub = MemoryHub()
    at = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    async with hub.subscribe("order:ord_1") as events:
        await hub.publish("order:ord_1", "order", {"id": "ord_1", "at": at})
        assert await events.get(1) == ("order", {"id": "ord_1", "at": "2026-11-23T15:00:00+00:00"})


async def test_leaving_the_block_unsubscribes() -> None:
    hub = MemoryHub()
    before = metrics.LIVE_SUBSCRIBERS._value.get()
    async with hub.subscribe("order:ord_1"):
        assert hub.subscriber_count == 1
        assert metrics.LIVE_SUBSCRIBERS._value.get() == before + 1
    assert hub.subscriber_count == 0
    assert not hub.has_subscribers("order:ord_1")
    assert metrics.LIVE_SUBSCRIBERS._value.get() == before
    await hub.publish("order:ord_1", "order", {"id": "ord_1"})  # nobody listening: no error


async def test_cancelled_subscriber_is_removed() -> None:
    hub = MemoryHub()
    started = asyncio.Event()

    async def watch() -> None:
        async with hub.subscribe("order:ord_1") as events:
            started.set()
            async for _ in events:
                pass

    task = asyncio.create_task(watch())
    await started.wait()
    assert hub.subscriber_count == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert hub.subscriber_count == 0


async def test_slow_subscriber_keeps_the_newest_events() -> None:
    hub = MemoryHub(queue_size=3)
    async with hub.subscribe("order:ord_1") as events:
        for n in range(5):
            await hub.publish("order:ord_1", "order", {"n": n})
        received = [await events.get(1) for _ in range(3)]
        assert [data["n"] for _, data in filter(None, received)] == [2, 3, 4]
        assert events.dropped == 2


async def test_publish_order_reaches_the_order_and_its_location() -> None:
    hub = MemoryHub()
    order = {"id": "ord_9", "location": "tml_3", "status": "paid"}
    reader = {"id": "tmr_4", "location": "tml_3", "status": "offline"}
    async with (
        hub.subscribe(order_channel("ord_9")) as order_events,
        hub.subscribe(location_channel("tml_3")) as location_events,
    ):
        await publish_order(hub, order)
        await publish_reader(hub, reader)
        assert await order_events.get(1) == ("order", order)
        assert await order_events.get(0.05) is None
        assert await location_events.get(1) == ("order", order)
        assert await location_events.get(1) == ("reader", reader)


async def test_resync_reaches_every_subscriber() -> None:
    hub = MemoryHub()
    async with hub.subscribe("order:a") as a, hub.subscribe("location:b") as b:
        hub.resync_all()
        assert await a.get(1) == ("resync", {})
        assert await b.get(1) == ("resync", {})


def test_hub_follows_the_database() -> None:
    assert type(create_hub("sqlite+aiosqlite:///./x.db")).__name__ == "MemoryHub"
    assert type(create_hub("postgresql://u@h/db")).__name__ == "PostgresHub"
    assert type(create_hub("postgres://u@h/db")).__name__ == "PostgresHub"


async def test_published_reader_status_shows_in_metrics() -> None:
    await publish_reader(
        MemoryHub(), {"id": "tmr_metrics1", "location": "tml_3", "status": "offline"}
    )
    online = {
        sample.labels["reader"]: sample.value
        for family in metrics.READERS.collect()
        if family.name == "countertop_reader_online"
        for sample in family.samples
    }
    assert online["tmr_metrics1"] == 0
    metrics.forget_reader("tmr_metrics1")


async def test_end_streams_reaches_every_subscriber() -> None:
    hub = MemoryHub()
    async with hub.subscribe("order:a") as a, hub.subscribe("location:b") as b:
        hub.end_streams()
        assert await a.get(1) == ("end", {})
        assert await b.get(1) == ("end", {})
