"""The PostgreSQL hub: an event published by one backend instance reaches subscribers of another."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from countertop.backend.live import PostgresHub
from countertop.backend.live.postgres import MAX_PIECE_BYTES, asyncpg_dsn, split_utf8
from tests.conftest import POSTGRES_URL


def test_large_bodies_are_cut_on_character_boundaries() -> None:
    body = ("é€" * 5000).encode()
    pieces = split_utf8(body, 7)
    assert all(len(piece) <= 7 for piece in pieces)
    assert b"".join(pieces) == body
    assert all(piece.decode() for piece in pieces)  # each piece is valid UTF-8 on its own


def test_dsn_accepts_every_spelling() -> None:
    for url in (
        "postgres://app:pw@db:5432/pos",
        "postgresql://app:pw@db:5432/pos",
        "postgresql+asyncpg://app:pw@db:5432/pos",
    ):
        assert asyncpg_dsn(url) == "postgresql://app:pw@db:5432/pos"


needs_postgres = pytest.mark.postgres


@pytest.fixture
async def two_hubs() -> AsyncIterator[tuple[PostgresHub, PostgresHub]]:
    first, second = PostgresHub(POSTGRES_URL), PostgresHub(POSTGRES_URL)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def terminate(application_name: str) -> int:
    """Kill the server side of the connections with this name, as a network failure would."""
    conn = await asyncpg.connect(asyncpg_dsn(POSTGRES_URL))
    try:
        killed: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1",
            application_name,
        )
    finally:
        await conn.close()
    return killed


def fresh_channel() -> str:
    return f"order:ord_{uuid.uuid4().hex}"


@needs_postgres
async def test_event_published_on_one_instance_reaches_the_other(
    two_hubs: tuple[PostgresHub, PostgresHub],
) -> None:
    first, second = two_hubs
    channel = fresh_channel()
    async with second.subscribe(channel) as remote, first.subscribe(channel) as local:
        await first.publish(channel, "order", {"id": "ord_1", "status": "paid"})
        assert await remote.get(10) == ("order", {"id": "ord_1", "status": "paid"})
        assert await local.get(10) == ("order", {"id": "ord_1", "status": "paid"})
        # The publisher's own subscribers hear it once, not again through PostgreSQL.
        await first.publish(channel, "order", {"id": "ord_1", "status": "refunded"})
        assert await local.get(10) == ("order", {"id": "ord_1", "status": "refunded"})
        assert await remote.get(10) == ("order", {"id": "ord_1", "status": "refunded"})
        await asyncio.sleep(0.2)
        assert await local.get(0.05) is None


@needs_postgres
async def test_events_arrive_in_publication_order(
    two_hubs: tuple[PostgresHub, PostgresHub],
) -> None:
    first, second = two_hubs
    channel = fresh_channel()
    async with second.subscribe(channel) as remote:
        for n in range(50):
            await first.publish(channel, "order", {"n": n})
        received = [await remote.get(10) for _ in range(50)]
        assert [data["n"] for _, data in filter(None, received)] == list(range(50))


@needs_postgres
async def test_an_order_larger_than_a_notify_payload_arrives_whole(
    two_hubs: tuple[PostgresHub, PostgresHub],
) -> None:
    first, second = two_hubs
    channel = fresh_channel()
    history = [
        {
            "entity": "attempt",
            "from": "on_reader",
            "to": "declined",
            "cause": f"evt_{n} \u2013 café",
        }
        for n in range(400)
    ]
    order = {"id": "ord_big", "history": history}
    async with second.subscribe(channel) as remote:
        await first.publish(channel, "order", order)
        await first.publish(channel, "order", {"id": "ord_big", "status": "paid"})
        assert await remote.get(10) == ("order", order)
        assert await remote.get(10) == ("order", {"id": "ord_big", "status": "paid"})
    assert len(str(order).encode()) > 3 * MAX_PIECE_BYTES


@needs_postgres
async def test_listener_reconnects_and_asks_for_a_resync(
    two_hubs: tuple[PostgresHub, PostgresHub],
) -> None:
    first, second = two_hubs
    channel = fresh_channel()
    async with second.subscribe(channel) as remote:
        killed = await terminate(f"countertop-live-listener-{second.instance}")
        assert killed == 1
        assert await remote.get(15) == ("resync", {})
        await first.publish(channel, "order", {"id": "ord_1", "status": "paid"})
        assert await remote.get(10) == ("order", {"id": "ord_1", "status": "paid"})


@needs_postgres
async def test_publishing_survives_a_dropped_sender_connection(
    two_hubs: tuple[PostgresHub, PostgresHub],
) -> None:
    first, second = two_hubs
    channel = fresh_channel()
    async with second.subscribe(channel) as remote:
        await first.publish(channel, "order", {"n": 1})
        assert await remote.get(10) == ("order", {"n": 1})
        assert await terminate(f"countertop-live-sender-{first.instance}") == 1
        await asyncio.sleep(0.1)
        await first.publish(channel, "order", {"n": 2})
        assert await remote.get(10) == ("order", {"n": 2})
