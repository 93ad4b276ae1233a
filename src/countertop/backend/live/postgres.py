"""A hub that relays events between backend instances through PostgreSQL LISTEN/NOTIFY.

Every instance LISTENs on one PostgreSQL channel, `countertop_live`, over a dedicated asyncpg
connection (reopened with back-off when it drops; subscribers then get a `resync` event, since
events may have been missed meanwhile). `publish` delivers to this instance's subscribers at once and
queues the event for a sender task, which NOTIFYs in batches over its own connection; the
listener skips what its own instance sent.

PostgreSQL refuses NOTIFY payloads of 8000 bytes or more, and an Order with its attempts and
history can be larger. Large events are therefore **chunked**: the JSON body is cut into pieces
below the limit, all sent in one statement (so they commit together), and reassembled by the
listeners. Each NOTIFY payload is one header line and a piece of the body::

    v1 <instance> <message> <part> <parts> <channel> <event>\\n<piece of JSON>

Chunking keeps the hub self-contained: no subscriber needs to know how to fetch a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from itertools import count
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from countertop.backend import metrics
from countertop.backend.live.hub import DEFAULT_QUEUE_SIZE, LiveHub, encode
from countertop.backend.store.db import normalize_url

log = logging.getLogger(__name__)

PG_CHANNEL = "countertop_live"
# PostgreSQL's limit is 8000 bytes; stay clear of it, header included.
MAX_PIECE_BYTES = 7600
# Events waiting for the sender; beyond this they are dropped (and counted) rather than hoarded.
MAX_PENDING = 10_000
MAX_BATCH = 200
HEALTH_CHECK_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 10.0
MAX_PARTIAL_MESSAGES = 1000

_NOTIFY_MANY = (
    "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS u(p, n) ORDER BY n"
)


def asyncpg_dsn(database_url: str) -> str:
    """A DSN asyncpg understands, from any spelling of the PostgreSQL URL."""
    url = make_url(normalize_url(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def split_utf8(body: bytes, size: int) -> list[bytes]:
    """Cut `body` into pieces of at most `size` bytes without splitting a UTF-8 character."""
    pieces: list[bytes] = []
    start = 0
    while len(body) - start > size:
        end = start + size
        while body[end] & 0xC0 == 0x80:  # a continuation byte: back up to the character start
            end -= 1
        pieces.append(body[start:end])
        start = end
    pieces.append(body[start:])
    return pieces


class PostgresHub(LiveHub):
    """Local delivery plus a LISTEN/NOTIFY relay to every other instance on the same database."""

    def __init__(self, database_url: str, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__(queue_size)
        self.dsn = asyncpg_dsn(database_url)
        self.instance = secrets.token_hex(6)
        self._ids = count(1)
        self._pending: asyncio.Queue[list[str]] = asyncio.Queue(MAX_PENDING)
        self._partial: dict[tuple[str, str], dict[int, str]] = {}
        self._sender_conn: asyncpg.Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._closed = False

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="live-listener"),
            asyncio.create_task(self._send_forever(), name="live-sender"),
        ]
        # Wait (briefly) for the first LISTEN, so events published right after start are heard.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 10)

    async def close(self) -> None:
        self._closed = True
        await self._drain(timeout=2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._sender_conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._sender_conn.close(), 2)
            self._sender_conn = None

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def publish(self, channel: str, event: str, data: dict[str, Any]) -> None:
        body = encode(data)
        self.deliver_local(channel, event, body)
        if self._closed:
            return
        try:
            self._pending.put_nowait(self._payloads(channel, event, body))
        except asyncio.QueueFull:
            metrics.LIVE_RELAY_FAILURES.inc()
            log.warning("live relay backlog full; event on %s not relayed", channel)

    def _payloads(self, channel: str, event: str, body: bytes) -> list[str]:
        pieces = split_utf8(body, MAX_PIECE_BYTES)
        message = next(self._ids)
        return [
            f"v1 {self.instance} {message} {part} {len(pieces)} {channel} {event}\n"
            + piece.decode()
            for part, piece in enumerate(pieces)
        ]

    async def _connect(self, role: str) -> asyncpg.Connection:
        # The application name lets an operator spot these connections in pg_stat_activity.
        name = f"countertop-live-{role}-{self.instance}"
        return await asyncpg.connect(self.dsn, server_settings={"application_name": name})

    # -- sending ---------------------------------------------------------------------------

    async def _drain(self, timeout: float) -> None:
        """Give queued events a moment to go out (used on close)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._pending.empty() and loop.time() < deadline and self._tasks:
            await asyncio.sleep(0.01)

    async def _send_forever(self) -> None:
        while True:
            batch = await self._pending.get()
            while len(batch) < MAX_BATCH and not self._pending.empty():
                batch.extend(self._pending.get_nowait())
            await self._send(batch)

    async def _send(self, payloads: list[str]) -> None:
        for attempt in range(2):
            try:
                if self._sender_conn is None or self._sender_conn.is_closed():
                    self._sender_conn = await self._connect("sender")
                await self._sender_conn.execute(_NOTIFY_MANY, PG_CHANNEL, payloads)
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                await self._drop_sender()
                if attempt:
                    metrics.LIVE_RELAY_FAILURES.inc(len(payloads))
                    log.warning(
                        "live relay failed, %d payloads not relayed: %s", len(payloads), exc
                    )

    async def _drop_sender(self) -> None:
        conn, self._sender_conn = self._sender_conn, None
        if conn is not None:
            conn.terminate()

    # -- listening -------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        backoff = 0.25
        connected_before = False
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._connect("listener")
                lost = asyncio.Event()
                conn.add_termination_listener(_setter(lost))
                await conn.add_listener(PG_CHANNEL, self._on_notify)
                if connected_before:
                    log.info("live listener reconnected; asking subscribers to resync")
                    self._partial.clear()
                    self.resync_all()
                connected_before = True
                backoff = 0.25
                self._listening.set()
                await self._watch(conn, lost)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("live listener connection lost: %s", exc)
            finally:
                self._listening.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is gone; probe it now and then to notice a silent drop."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), HEALTH_CHECK_SECONDS)
                return
            await asyncio.wait_for(conn.execute("SELECT 1"), 10)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            self._receive(str(payload))
        except ValueError as exc:
            log.warning("ignoring a malformed live event: %s", exc)

    def _receive(self, payload: str) -> None:
        header, _, piece = payload.partition("\n")
        version, instance, message, part_s, parts_s, channel, event = header.split(" ")
        if version != "v1":
            raise ValueError(f"unknown envelope version {version!r}")
        if instance == self.instance or not self.has_subscribers(channel):
            return
        part, parts = int(part_s), int(parts_s)
        if parts == 1:
            self.deliver_local(channel, event, piece.encode())
            return
        key = (instance, message)
        received = self._partial.setdefault(key, {})
        received[part] = piece
        if len(received) < parts:
            if len(self._partial) > MAX_PARTIAL_MESSAGES:
                self._partial.pop(next(iter(self._partial)))
            return
        del self._partial[key]
        body = "".join(received[i] for i in range(parts))
        self.deliver_local(channel, event, body.encode())


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    def on_termination(_conn: object) -> None:
        event.set()

    return on_termination
