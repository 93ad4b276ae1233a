"""Live status: the hub that carries order and reader changes to Server-Sent Event streams.

Publishing (called after each committed state change)::

    hub: LiveHub = request.app.state.hub
    await hub.publish(order_channel(order["id"]), "order", order)
    # or, for the usual pair of channels (the order's own and its location's):
    await publish_order(hub, order)
    await publish_reader(hub, reader)

Subscribing (the SSE routes)::

    async with hub.subscribe(order_channel(order_id)) as events:
        async for event, data in events:
            ...

`subscribe` is an async context manager so that leaving the block, by any path, removes the
subscription. Channels are `order:<order_id>` and `location:<location_id>`; events are `order`
(Order JSON) and `reader` (Reader JSON), plus `resync` (empty data), which a hub sends when it may
have missed events (its PostgreSQL connection dropped and came back): a subscriber should then
re-read what it shows.

`publish` never raises for delivery problems: the state change is already committed, and live status
is a convenience over it (the POS can always re-read the order). Each event carries a complete
snapshot, so a late or lost event is repaired by the next one.

With SQLite (one instance) `MemoryHub` delivers within the process. With PostgreSQL, `PostgresHub`
also relays every event through LISTEN/NOTIFY, so a subscriber connected to one backend instance sees
what another instance published (see `countertop.backend.live.postgres`).
"""

from __future__ import annotations

from typing import Any

from countertop.backend import metrics
from countertop.backend.live.hub import LiveHub, MemoryHub, Subscription
from countertop.backend.live.postgres import PostgresHub


def order_channel(order_id: str) -> str:
    return f"order:{order_id}"


def location_channel(location_id: str) -> str:
    return f"location:{location_id}"


async def publish_order(hub: LiveHub, order: dict[str, Any]) -> None:
    """Announce an order snapshot on its own channel and on its location's channel."""
    await hub.publish(order_channel(order["id"]), "order", order)
    if order.get("location"):
        await hub.publish(location_channel(order["location"]), "order", order)


async def publish_reader(hub: LiveHub, reader: dict[str, Any]) -> None:
    """Announce a reader snapshot on its location's channel (and note its status in metrics)."""
    if reader.get("id") and reader.get("status"):
        metrics.set_reader_status(reader["id"], reader.get("location") or "", reader["status"])
    if reader.get("location"):
        await hub.publish(location_channel(reader["location"]), "reader", reader)


def create_hub(database_url: str) -> LiveHub:
    """The hub that fits the database: in-process for SQLite, LISTEN/NOTIFY for PostgreSQL."""
    if database_url.startswith(("postgresql", "postgres:")):
        return PostgresHub(database_url)
    return MemoryHub()


__all__ = [
    "LiveHub",
    "MemoryHub",
    "PostgresHub",
    "Subscription",
    "create_hub",
    "location_channel",
    "order_channel",
    "publish_order",
    "publish_reader",
]
