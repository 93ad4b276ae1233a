"""The webhook endpoint answered ahead of FastAPI: every failure is an answer Stripe can act on.

Stripe delivers an event again after any answer but a 2xx, so a delivery that could not be stored
must never look like a success, and one the backend could not handle must still be answered (a
5xx with a problem body), not dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from starlette.datastructures import State
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from countertop.backend import webhooks
from countertop.backend.app import create_app
from countertop.backend.settings import Settings

SECRET = "whsec_endpoint_test_secret"
EVENT = json.dumps(
    {"id": "evt_endpoint_1", "object": "event", "type": "charge.updated", "data": {"object": {}}}
).encode()


def _signature(payload: bytes, secret: str = SECRET) -> str:
    now = int(time.time())
    digest = hmac.new(secret.encode(), f"{now}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={now},v1={digest}"


async def _inner(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("inner", status_code=299)(scope, receive, send)


def _front() -> webhooks.WebhookApp:
    state = State()
    state.webhook_secret = SECRET
    state.services = object()  # `receive_event` is replaced in each test
    return webhooks.WebhookApp(_inner, state)


async def _post(
    app: Any, payload: bytes = EVENT, signature: str | None = None, path: str = "/webhooks/stripe"
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = signature if signature is not None else _signature(payload)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, content=payload, headers=headers)


def _receive(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> list[dict[str, Any]]:
    """Replace storing and applying; `outcome` is returned, or raised if an exception."""
    received: list[dict[str, Any]] = []

    async def receive_event(svc: Any, event: dict[str, Any], payload: bytes) -> bool:
        received.append(event)
        if isinstance(outcome, BaseException):
            raise outcome
        return bool(outcome)

    monkeypatch.setattr(webhooks, "receive_event", receive_event)
    return received


async def test_a_verified_event_is_stored_and_acknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    received = _receive(monkeypatch, True)
    response = await _post(_front())
    assert response.status_code == 200
    assert response.json() == {"received": True}
    assert [event["id"] for event in received] == ["evt_endpoint_1"]


async def test_a_repeated_event_is_acknowledged_as_a_duplicate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _receive(monkeypatch, False)
    response = await _post(_front())
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": True}


async def test_a_forged_event_is_refused_and_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    received = _receive(monkeypatch, True)
    response = await _post(_front(), signature=_signature(EVENT, "whsec_someone_else"))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert received == []


async def test_a_body_too_large_for_an_event_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    received = _receive(monkeypatch, True)
    payload = b"{" + b" " * webhooks.MAX_BODY_BYTES + b"}"
    response = await _post(_front(), payload)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert received == []


async def test_a_busy_database_asks_stripe_to_deliver_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    _receive(monkeypatch, locked)
    response = await _post(_front())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "busy"


async def test_an_unexpected_failure_is_answered_500_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _receive(monkeypatch, RuntimeError("disk on fire"))
    with caplog.at_level(logging.ERROR, "countertop.webhooks"):
        response = await _post(_front())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert "disk on fire" not in response.text
    assert any("disk on fire" in (r.exc_text or "") for r in caplog.records)


async def test_other_requests_go_on_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    received = _receive(monkeypatch, True)
    front = _front()
    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/webhooks/stripe")).status_code == 299
        assert (await client.post("/webhooks/stripe/x")).status_code == 299
        assert (await client.post("/api/orders")).status_code == 299
    assert received == []


async def test_the_fastapi_route_answers_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    _receive(monkeypatch, True)
    app = FastAPI()
    app.include_router(webhooks.router)
    app.state.webhook_secret = SECRET
    app.state.services = object()
    response = await _post(app)
    assert response.status_code == 200
    assert response.json() == {"received": True}
    forged = await _post(app, signature=_signature(EVENT, "whsec_someone_else"))
    assert forged.status_code == 400
    assert forged.json()["code"] == "invalid_signature"


async def test_the_backend_documents_the_route_and_tags_each_delivery_with_a_request_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _receive(monkeypatch, True)
    app = create_app(Settings.model_validate({"STRIPE_WEBHOOK_SECRET": SECRET}))
    assert "post" in app.openapi()["paths"]["/webhooks/stripe"]
    app.state.webhook_secret = SECRET  # set by the lifespan, which this test does not run
    app.state.services = object()
    response = await _post(app)
    assert response.status_code == 200
    assert len(response.headers["x-request-id"]) >= 8
