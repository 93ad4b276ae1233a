"""Live updates, coalesced: what changed is published once per short window, not once per change.

A sale changes its order several times within milliseconds (authorized, captured, the card learnt,
the reader released), and every change used to rebuild and send the whole order. Each live event
is a complete snapshot, so only the last one of a burst matters. The first change after a quiet
spell is published at once; changes that follow within `WINDOW` seconds of a publication are
collected and published together when the window ends: every changed order read once (all of
them in one database session), every changed reader with the order that holds it.

Readers are published from what Stripe last said about them: the reader object of a reader event
or of a command's answer. Only a reader never seen yet is read from Stripe.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from countertop.backend.services.context import Services
from countertop.backend.services.recent import Recent
from countertop.backend.store.lists import in_list
from countertop.backend.store.payments import ReaderHoldRow
from countertop.backend.stripe_gateway import StripeFailure

log = logging.getLogger("countertop.live")
Json = dict[str, Any]
WINDOW = 0.05
# Readers remembered at most (a store's fleet is small; this bounds memory on a big platform).
MAX_READERS = 10_000
_HOLDERS = select(ReaderHoldRow.reader_id, ReaderHoldRow.order_id).where(
    in_list(ReaderHoldRow.reader_id, "readers")
)


class LiveUpdates:
    """Collects changed orders and readers and publishes each once per window (best effort)."""

    def __init__(self, svc: Services, window: float = WINDOW) -> None:
        self.svc = svc
        self.window = window
        self._orders: set[str] = set()
        self._readers: set[str] = set()
        self._known: Recent[str, Json] = Recent(MAX_READERS)
        self._scheduled = False
        self._last = float("-inf")

    def remember_reader(self, reader: Json) -> None:
        """Note what Stripe just said about a reader (an event's object or a command's answer)."""
        reader_id = reader.get("id")
        if not isinstance(reader_id, str) or reader.get("object") != "terminal.reader":
            return
        self._known.put(reader_id, reader)

    def known_reader(self, reader_id: str) -> Json | None:
        """What Stripe last said about a reader, if it said anything since this process began."""
        return self._known.get(reader_id)

    def forget_reader(self, reader_id: str) -> None:
        self._known.forget(reader_id)

    def order_changed(self, order_id: str) -> None:
        if self.svc.nobody_listens():
            return
        self._orders.add(order_id)
        self._schedule()

    def reader_changed(self, reader_id: str, reader: Json | None = None) -> None:
        if reader is not None:
            self.remember_reader(reader)
        if self.svc.nobody_listens():
            return
        self._readers.add(reader_id)
        self._schedule()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        now = asyncio.get_running_loop().time()
        self.svc.spawn(self._flush_after(max(0.0, self._last + self.window - now)))

    async def _flush_after(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        self._scheduled = False
        self._last = asyncio.get_running_loop().time()
        await self.flush()

    async def flush(self) -> None:
        """Publish every order and reader changed since the last flush."""
        orders, readers = self._orders, self._readers
        self._orders, self._readers = set(), set()
        if not orders and not readers:
            return
        from countertop.backend.live import publish_order, publish_reader
        from countertop.backend.services.orders import load_views
        from countertop.backend.services.readers import reader_json

        # Plain reads, not a snapshot: a change committed while these are read has announced
        # itself and is published in the next window, so a half-seen change is soon repaired.
        async with self.svc.db.direct.autocommit() as s:
            views = await load_views(s, sorted(orders)) if orders else []
            holds: dict[str, str] = {}
            if readers:
                rows = await s.execute(_HOLDERS, {"readers": sorted(readers)})
                holds = {r.reader_id: r.order_id for r in rows}
        hub = self.svc.hub
        if hub is None:
            return
        for view in views:
            await publish_order(hub, view)
        for reader_id in sorted(readers):
            reader = self._known.get(reader_id)
            if reader is None:
                try:
                    reader = await self.svc.gateway.retrieve_reader(reader_id)
                except StripeFailure as failure:
                    log.info("reader %s not published: %s", reader_id, failure)
                    continue
                self.remember_reader(reader)
            await publish_reader(hub, reader_json(reader, holds.get(reader_id)))
