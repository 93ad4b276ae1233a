"""`POST /webhooks/stripe`: Stripe's signed events, verified, stored once and applied.

A bad, missing or stale signature (tolerance 300 s) is refused with 400 and changes nothing. An
event seen before and already applied is acknowledged without being applied again. If applying
needs Stripe and Stripe cannot be reached, the answer is 503 so Stripe delivers the event again
(the sweep would recover it anyway). A database too busy to answer is a 503 `busy` too.

This is the hottest route of the backend (five deliveries a sale, more when Stripe retries), so
`WebhookApp` answers it as a plain ASGI endpoint ahead of FastAPI's routing, middleware and
request parsing (which cost as much CPU as storing and applying the event). The FastAPI route
below is the same handler, for the OpenAPI document and for any caller that reaches the router.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.datastructures import State
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from countertop.backend import metrics
from countertop.backend.errors import ApiError, problem
from countertop.backend.services.events import receive_event
from countertop.backend.store.busy import busy_problem, is_busy
from countertop.backend.stripe_gateway import StripeFailure, WebhookRejected, verify_webhook

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("countertop.webhooks")
TOLERANCE_SECONDS = 300
PATH = "/webhooks/stripe"
# Stripe's events are a few kilobytes; a body past this is not one of them.
MAX_BODY_BYTES = 1024 * 1024


async def handle(state: State, payload: bytes, signature: str | None) -> Response:
    """Verify, store and apply one delivery; the answer Stripe gets."""
    secret: str | None = getattr(state, "webhook_secret", None)
    svc = getattr(state, "services", None)
    if not secret or svc is None:
        return problem(
            ApiError(503, "webhooks_unconfigured", "Webhooks not configured", "No signing secret.")
        )
    try:
        event = verify_webhook(payload, signature, secret, TOLERANCE_SECONDS)
    except WebhookRejected as rejected:
        log.warning("webhook refused: %s", rejected)
        metrics.record_webhook_event("unverified", "rejected")
        return problem(ApiError(400, "invalid_signature", "Webhook refused", str(rejected)))
    if not isinstance(event.get("id"), str) or not isinstance(event.get("data"), dict):
        return problem(ApiError(400, "validation_error", "Not an event", "No id or data."))
    event_type = str(event.get("type"))
    if isinstance(event.get("created"), int):
        metrics.observe_webhook_lag(event["created"])
    try:
        if not await receive_event(svc, event, payload):
            metrics.record_webhook_event(event_type, "duplicate")
            return _json({"received": True, "duplicate": True})
    except StripeFailure as failure:
        log.warning("event %s stored, not applied yet: %s", event["id"], failure)
        metrics.record_webhook_event(event_type, "failed")
        return _json({"received": True, "applied": False}, 503)
    metrics.record_webhook_event(event_type, "applied")
    return _json({"received": True})


@router.post(PATH, summary="Stripe webhook events (signed)")
async def stripe_webhook(request: Request) -> Any:
    return await handle(
        request.app.state, await request.body(), request.headers.get("stripe-signature")
    )


class WebhookApp:
    """The ASGI app uvicorn runs: `POST /webhooks/stripe` straight to `handle`, the rest to `app`.

    Wrapped by the request-context middleware like every route, so each delivery still gets its
    request id, access log line and request metrics.
    """

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        payload = await _read_body(receive)
        response: Response
        if payload is None:
            response = problem(
                ApiError(413, "payload_too_large", "Payload too large", "Not a Stripe event.")
            )
        else:
            response = await self._answer(payload, _header(scope, b"stripe-signature"))
        # The answer is always a whole body in memory: sent as two messages, as `Response` would.
        start = {"type": "http.response.start", "status": response.status_code}
        await send({**start, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _answer(self, payload: bytes, signature: str | None) -> Response:
        try:
            return await handle(self.state, payload, signature)
        except Exception as error:  # answered, never dropped: Stripe delivers it again
            if is_busy(error):
                log.warning("database busy, answered 503: POST %s", PATH)
                return busy_problem()
            log.exception("webhook delivery failed")
            return problem(ApiError(500, "internal_error", "Internal error", "Try again later."))


class _Route:
    """What the request metrics and logs read of a matched route: its path template."""

    path = PATH


_ROUTE = _Route()


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None once it grows past `MAX_BODY_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
