"""`POST /webhooks/stripe`: Stripe's signed events, verified, stored once and applied.

A bad, missing or stale signature (tolerance 300 s) is refused with 400 and changes nothing. An
event seen before and already applied is acknowledged without being applied again. If applying
needs Stripe and Stripe cannot be reached, the answer is 503 so Stripe delivers the event again
(the sweep would recover it anyway).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from countertop.backend import metrics
from countertop.backend.errors import ApiError, problem
from countertop.backend.services.events import receive_event
from countertop.backend.stripe_gateway import StripeFailure, WebhookRejected, verify_webhook

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("countertop.webhooks")
TOLERANCE_SECONDS = 300


@router.post("/webhooks/stripe", summary="Stripe webhook events (signed)")
async def stripe_webhook(request: Request) -> Any:
    secret: str | None = getattr(request.app.state, "webhook_secret", None)
    svc = getattr(request.app.state, "services", None)
    if not secret or svc is None:
        return problem(
            ApiError(503, "webhooks_unconfigured", "Webhooks not configured", "No signing secret.")
        )
    payload = await request.body()
    try:
        event = verify_webhook(
            payload, request.headers.get("stripe-signature"), secret, TOLERANCE_SECONDS
        )
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
            return {"received": True, "duplicate": True}
    except StripeFailure as failure:
        log.warning("event %s stored, not applied yet: %s", event["id"], failure)
        metrics.record_webhook_event(event_type, "failed")
        return JSONResponse({"received": True, "applied": False}, status_code=503)
    metrics.record_webhook_event(event_type, "applied")
    return {"received": True}
