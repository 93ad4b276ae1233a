"""Live status routes: Server-Sent Events per order and per location (see docs/api.md).

`GET /api/orders/{id}/events` first sends the order as it is now, then every change. `GET
/api/locations/{id}/events` sends the changes of the location's orders and readers; the POS reads
the current lists over the REST API when the stream opens. Both send a comment line every
`HEARTBEAT_SECONDS`, so proxies keep the connection open and a vanished client is noticed, and a
`retry:` hint for the browser's reconnection. When the hub reports that events may have been missed
(`resync`), the order stream sends a fresh snapshot and the location stream ends, so the browser
reconnects and re-reads. Both end when the server shuts down (`LiveHub.end_streams`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from countertop.backend.auth import Principal, current_principal
from countertop.backend.errors import ApiError
from countertop.backend.live import LiveHub, Subscription, location_channel, order_channel
from countertop.backend.services.orders import get_order_view

log = logging.getLogger(__name__)

router = APIRouter(tags=["live status"])

HEARTBEAT_SECONDS = 15.0
RETRY_MILLISECONDS = 3000
HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "A stream of events."}
}


def sse_event(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def sse_retry() -> bytes:
    return f"retry: {RETRY_MILLISECONDS}\n\n".encode()


HEARTBEAT = b": keep-alive\n\n"


def is_stale(shown: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """True when `new` is an older snapshot of the order already shown (it has less history).

    Two requests can commit changes to one order and publish them in the other order; the
    history only grows, so its length tells which snapshot is newer.
    """
    if shown is None or shown.get("id") != new.get("id"):
        return False
    return len(new.get("history") or ()) < len(shown.get("history") or ())


async def load_order(request: Request, order_id: str) -> dict[str, Any] | None:
    return await get_order_view(request.app.state.db, order_id)


async def _order_or_404(request: Request, order_id: str, principal: Principal) -> dict[str, Any]:
    """The order if it exists in the caller's scope; 404 otherwise, as for `GET /api/orders/{id}`."""
    order = await load_order(request, order_id)
    if order is None or not principal.can_access(order.get("location")):
        raise ApiError(404, "not_found", "Not found", f"No such order: {order_id}")
    return order


def stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=HEADERS)


@router.get(
    "/api/orders/{order_id}/events",
    response_class=StreamingResponse,
    responses=SSE_RESPONSES,
    summary="Follow an order live (Server-Sent Events)",
)
async def order_events(
    order_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> StreamingResponse:
    """`event: order` with the Order JSON now and on every change."""
    await _order_or_404(request, order_id, principal)
    hub: LiveHub = request.app.state.hub

    async def events() -> AsyncIterator[bytes]:
        async with hub.subscribe(order_channel(order_id)) as subscription:
            # Subscribed before reading, so no change between the read and the stream is lost.
            shown = await load_order(request, order_id)
            yield sse_retry()
            if shown is not None:
                yield sse_event("order", shown)
            async for event, data in _with_heartbeats(subscription):
                if not event:
                    yield HEARTBEAT
                    continue
                if event == "resync":
                    fresh = await load_order(request, order_id)
                    if fresh is None:
                        continue
                    event, data = "order", fresh
                elif event != "order" or is_stale(shown, data):
                    continue
                shown = data
                yield sse_event(event, data)

    return stream(events())


@router.get(
    "/api/locations/{location_id}/events",
    response_class=StreamingResponse,
    responses=SSE_RESPONSES,
    summary="Follow a location's orders and readers live (Server-Sent Events)",
)
async def location_events(
    location_id: str, request: Request, principal: Principal = Depends(current_principal)
) -> StreamingResponse:
    """`event: order` (Order JSON) and `event: reader` (Reader JSON) as they change."""
    principal.check_location(location_id)
    hub: LiveHub = request.app.state.hub

    async def events() -> AsyncIterator[bytes]:
        async with hub.subscribe(location_channel(location_id)) as subscription:
            yield sse_retry()
            async for event, data in _with_heartbeats(subscription):
                if event == "resync":
                    return  # the browser reconnects and re-reads the lists
                yield sse_event(event, data) if event else HEARTBEAT

    return stream(events())


async def _with_heartbeats(subscription: Subscription) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The subscription's events, with ("", {}) whenever HEARTBEAT_SECONDS pass in silence.

    Ends at an `end` event (the server is shutting down; the browser reconnects elsewhere).
    """
    while True:
        item = await subscription.get(HEARTBEAT_SECONDS)
        if item is not None and item[0] == "end":
            return
        yield item if item is not None else ("", {})
