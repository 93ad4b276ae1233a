"""Stripe's server-driven Terminal sample works against the emulator with only the API base changed.

Stripe's sample (stripe-samples/terminal, `server-driven/server/python`) is a small web server
whose routes each make one Stripe call in the library's global, resource style, configured with
`stripe.api_key`, `stripe.api_version = "2020-08-27"` and `stripe.app_info`. Its browser page then
walks list readers -> create -> process -> simulate -> retrieve -> capture, or cancel.

`sample_routes` below is our own app with the same routes, making the same calls with the same
parameters in the same style, configured the same way plus the one change a user makes to point it
at the emulator: `stripe.api_base`. The tests then drive those routes with JSON, as the sample's
page and its own test suite do, and check what the page reads from each answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from countertop.emulator.server import EmulatorServer

SAMPLE_API_VERSION = "2020-08-27"


def _answer(key: str, obj: stripe.StripeObject) -> JSONResponse:
    # The sample pins stripe 2.x, whose objects were dicts that Flask's jsonify serialised
    # directly; to_dict() gives the same JSON with today's library.
    return JSONResponse({key: obj.to_dict()})


def _failure(error: Exception) -> JSONResponse:
    return JSONResponse({"error": {"message": str(error)}}, status_code=400)


async def list_readers(request: Request) -> JSONResponse:
    try:
        readers = stripe.terminal.Reader.list()
        return JSONResponse({"readers": [reader.to_dict() for reader in readers.data]})
    except stripe.StripeError as error:
        return _failure(error)


async def create_payment_intent(request: Request) -> JSONResponse:
    try:
        amount = (await request.json()).get("amount")
        intent = stripe.PaymentIntent.create(
            amount=amount,
            currency="usd",
            payment_method_types=["card_present"],  # type: ignore[call-arg]  # pre-endive param
            capture_method="manual",
        )
        return JSONResponse({"payment_intent_id": intent.id})
    except stripe.StripeError as error:
        return _failure(error)


async def retrieve_payment_intent(request: Request) -> JSONResponse:
    try:
        intent = stripe.PaymentIntent.retrieve(request.query_params["payment_intent_id"])
        return _answer("payment_intent", intent)
    except stripe.StripeError as error:
        return _failure(error)


async def process_payment_intent(request: Request) -> JSONResponse:
    try:
        body = await request.json()
        reader = stripe.terminal.Reader.process_payment_intent(
            body.get("reader_id"), payment_intent=body.get("payment_intent_id")
        )
        return _answer("reader_state", reader)
    except stripe.StripeError as error:
        return _failure(error)


async def simulate_payment(request: Request) -> JSONResponse:
    try:
        reader_id = (await request.json()).get("reader_id")
        reader = stripe.terminal.Reader.TestHelpers.present_payment_method(reader_id)
        return _answer("reader_state", reader)
    except stripe.StripeError as error:
        return _failure(error)


async def retrieve_reader(request: Request) -> JSONResponse:
    try:
        reader = stripe.terminal.Reader.retrieve(request.query_params["reader_id"])
        return _answer("reader_state", reader)
    except stripe.StripeError as error:
        return _failure(error)


async def capture_payment_intent(request: Request) -> JSONResponse:
    try:
        intent_id = (await request.json()).get("payment_intent_id")
        return _answer("payment_intent", stripe.PaymentIntent.capture(intent_id))
    except stripe.StripeError as error:
        return _failure(error)


async def cancel_reader_action(request: Request) -> JSONResponse:
    try:
        reader_id = (await request.json()).get("reader_id")
        return _answer("reader_state", stripe.terminal.Reader.cancel_action(reader_id))
    except stripe.StripeError as error:
        return _failure(error)


def sample_routes() -> Starlette:
    return Starlette(
        routes=[
            Route("/list-readers", list_readers, methods=["GET"]),
            Route("/create-payment-intent", create_payment_intent, methods=["POST"]),
            Route("/retrieve-payment-intent", retrieve_payment_intent, methods=["GET"]),
            Route("/process-payment-intent", process_payment_intent, methods=["POST"]),
            Route("/simulate-payment", simulate_payment, methods=["POST"]),
            Route("/retrieve-reader", retrieve_reader, methods=["GET"]),
            Route("/capture-payment-intent", capture_payment_intent, methods=["POST"]),
            Route("/cancel-reader-action", cancel_reader_action, methods=["POST"]),
        ]
    )


@pytest.fixture
async def sample(server: EmulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    """The sample's configuration, with `stripe.api_base` as the only addition."""
    saved = (stripe.api_key, stripe.api_base, stripe.api_version, stripe.app_info)
    stripe.api_key = server.secret_key
    stripe.api_version = SAMPLE_API_VERSION
    stripe.set_app_info(
        "countertop-sample-flow-check", version="0.0.1", url="https://example.invalid/"
    )
    stripe.api_base = server.url
    try:
        transport = httpx.ASGITransport(app=sample_routes())
        async with httpx.AsyncClient(transport=transport, base_url="http://sample") as client:
            yield client
    finally:
        stripe.api_key, stripe.api_base, stripe.api_version, stripe.app_info = saved


@pytest.fixture
async def reader_id(sample: httpx.AsyncClient) -> str:
    """What the sample's test suite does first: make sure a simulated WisePOS E exists."""
    if not stripe.terminal.Reader.list(device_type="simulated_wisepos_e").data:
        stripe.terminal.Reader.create(registration_code="simulated-wpe")
    readers: list[dict[str, Any]] = (await _get(sample, "/list-readers"))["readers"]
    wisepos = [r for r in readers if r["device_type"] == "simulated_wisepos_e"]
    assert wisepos, "the sample's page would show no simulated reader"
    return str(wisepos[0]["id"])


async def _get(sample: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await sample.get(path, params=params)
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    return body


async def _post(sample: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await sample.post(path, json=payload)
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    return body


async def _hand_to_reader(sample: httpx.AsyncClient, reader_id: str, amount: str) -> str:
    # The page sends the amount as typed into its <input>: a string.
    created = await _post(sample, "/create-payment-intent", {"amount": amount})
    intent_id = str(created["payment_intent_id"])
    handed = {"reader_id": reader_id, "payment_intent_id": intent_id}
    state = (await _post(sample, "/process-payment-intent", handed))["reader_state"]
    assert state["id"] == reader_id
    assert state["action"]["status"] == "in_progress"
    assert state["action"]["process_payment_intent"]["payment_intent"] == intent_id
    return intent_id


async def test_the_whole_sample_flow_pays_and_captures(
    sample: httpx.AsyncClient, reader_id: str
) -> None:
    intent_id = await _hand_to_reader(sample, reader_id, "888")
    reader = (await _get(sample, "/retrieve-reader", reader_id=reader_id))["reader_state"]
    assert reader["id"] == reader_id
    assert reader["action"]["status"] == "in_progress"
    simulated = (await _post(sample, "/simulate-payment", {"reader_id": reader_id}))["reader_state"]
    assert simulated["action"]["status"] == "succeeded"
    intent = (await _get(sample, "/retrieve-payment-intent", payment_intent_id=intent_id))[
        "payment_intent"
    ]
    assert intent["status"] == "requires_capture"
    assert intent["amount"] == 888
    assert intent["capture_method"] == "manual"
    assert intent["payment_method_types"] == ["card_present"]
    captured = await _post(sample, "/capture-payment-intent", {"payment_intent_id": intent_id})
    assert captured["payment_intent"]["status"] == "succeeded"
    assert captured["payment_intent"]["amount_received"] == 888


async def test_cancel_clears_the_reader_action(sample: httpx.AsyncClient, reader_id: str) -> None:
    await _hand_to_reader(sample, reader_id, "999")
    state = (await _post(sample, "/cancel-reader-action", {"reader_id": reader_id}))["reader_state"]
    assert state["id"] == reader_id
    assert state.get("action") is None


async def test_capture_route_captures_a_card_not_present_authorisation(
    sample: httpx.AsyncClient,
) -> None:
    # The sample's own test of its capture route authorises with a test card, not a reader.
    intent = stripe.PaymentIntent.create(
        amount=333,
        currency="usd",
        payment_method="pm_card_visa",
        confirm=True,
        capture_method="manual",
    )
    captured = await _post(sample, "/capture-payment-intent", {"payment_intent_id": intent.id})
    assert captured["payment_intent"]["status"] == "succeeded"


async def test_errors_reach_the_page_as_the_sample_reports_them(
    sample: httpx.AsyncClient,
) -> None:
    handed = {"reader_id": "tmr_missing", "payment_intent_id": "pi_missing"}
    response = await sample.post("/process-payment-intent", json=handed)
    assert response.status_code == 400
    assert "tmr_missing" in response.json()["error"]["message"]
