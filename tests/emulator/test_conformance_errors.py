"""Error bodies match Stripe's `error` schema and reach the official library as Stripe's would.

Each case provokes one error through `stripe.StripeClient` and checks what a caller relies on: the
exception class the library picks from the HTTP status, the status itself, the error `type`,
`code` and `param`, a request id, and the raw body against the 2023-09-12 `error` schema (which
also checks an embedded `payment_intent`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import stripe

from countertop.emulator.emulator import Emulator
from countertop.emulator.server import EmulatorServer
from tests.emulator.openapi import assert_valid, card_present_intent, flow_client


@pytest.fixture(scope="module")
def client(server: EmulatorServer) -> stripe.StripeClient:
    return flow_client(server)


@dataclass(frozen=True)
class Expected:
    exception: type[stripe.StripeError]
    status: int
    type: str
    code: str | None = None
    param: str | None = None
    decline_code: str | None = None


def _caught(call: Callable[[], Any]) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        call()
    return caught.value


def _check(error: stripe.StripeError, expected: Expected) -> dict[str, Any]:
    assert type(error) is expected.exception, f"{type(error).__name__}: {error.user_message}"
    assert error.http_status == expected.status
    assert error.request_id, "no Request-Id header on the error response"
    body = error.json_body
    assert isinstance(body, dict)
    assert_valid(body, "error")
    details: dict[str, Any] = body["error"]
    assert details["type"] == expected.type
    assert details.get("message"), "Stripe errors always carry a message"
    if expected.code is not None:
        assert details.get("code") == expected.code
    if expected.param is not None:
        assert details.get("param") == expected.param
    if expected.decline_code is not None:
        assert details.get("decline_code") == expected.decline_code
    return details


@pytest.fixture(scope="module")
def reader_id(client: stripe.StripeClient) -> str:
    location = client.v1.terminal.locations.create(
        {"display_name": "Back office", "address": {"country": "US", "line1": "2 Main St"}}
    )
    reader = client.v1.terminal.readers.create(
        {"registration_code": "simulated-s700", "location": location.id}
    )
    return reader.id


def test_unknown_object_is_a_404_resource_missing(client: stripe.StripeClient) -> None:
    error = _caught(lambda: client.v1.payment_intents.retrieve("pi_doesnotexist"))
    expected = Expected(
        stripe.InvalidRequestError, 404, "invalid_request_error", "resource_missing"
    )
    assert "pi_doesnotexist" in _check(error, expected)["message"]


def test_missing_required_param_names_the_param(client: stripe.StripeClient) -> None:
    error = _caught(lambda: client.v1.payment_intents.create({"currency": "usd"}))  # type: ignore[typeddict-item]
    _check(
        error,
        Expected(
            stripe.InvalidRequestError, 400, "invalid_request_error", "parameter_missing", "amount"
        ),
    )


def test_unknown_registration_code_is_refused(client: stripe.StripeClient) -> None:
    error = _caught(
        lambda: client.v1.terminal.readers.create({"registration_code": "no-such-code"})
    )
    _check(error, Expected(stripe.InvalidRequestError, 400, "invalid_request_error"))


def test_reader_refuses_an_intent_not_awaiting_a_payment_method(
    client: stripe.StripeClient, reader_id: str
) -> None:
    intent = card_present_intent(client, 1500)
    client.v1.payment_intents.cancel(intent.id)
    error = _caught(
        lambda: client.v1.terminal.readers.process_payment_intent(
            reader_id, {"payment_intent": intent.id}
        )
    )
    _check(
        error,
        Expected(stripe.InvalidRequestError, 400, "invalid_request_error", "intent_invalid_state"),
    )


def test_declined_card_not_present_is_a_402_card_error(client: stripe.StripeClient) -> None:
    error = _caught(
        lambda: client.v1.payment_intents.create(
            {
                "amount": 700,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclined",
                "confirm": True,
            }
        )
    )
    details = _check(
        error,
        Expected(
            stripe.CardError, 402, "card_error", "card_declined", decline_code="generic_decline"
        ),
    )
    assert details["payment_intent"]["status"] == "requires_payment_method"
    assert details["payment_intent"]["last_payment_error"]["code"] == "card_declined"


def test_reused_idempotency_key_with_other_params_is_an_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    params = {"amount": 900, "currency": "usd", "payment_method_types": ["card_present"]}
    options: dict[str, Any] = {"idempotency_key": "conformance-reuse-1"}
    first = client.v1.payment_intents.create(params, options)  # type: ignore[arg-type]
    replay = client.v1.payment_intents.create(params, options)  # type: ignore[arg-type]
    assert replay.id == first.id
    assert replay.last_response is not None
    assert replay.last_response.headers.get("Idempotent-Replayed") == "true"
    changed = {**params, "amount": 901}
    error = _caught(lambda: client.v1.payment_intents.create(changed, options))  # type: ignore[arg-type]
    _check(error, Expected(stripe.IdempotencyError, 400, "idempotency_error"))


def test_over_refund_is_refused(client: stripe.StripeClient, reader_id: str) -> None:
    intent = card_present_intent(client, 1200)
    client.v1.terminal.readers.process_payment_intent(reader_id, {"payment_intent": intent.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader_id)
    client.v1.payment_intents.capture(intent.id)
    error = _caught(lambda: client.v1.refunds.create({"payment_intent": intent.id, "amount": 1201}))
    _check(error, Expected(stripe.InvalidRequestError, 400, "invalid_request_error"))


def test_capturing_more_than_authorized_is_refused(
    client: stripe.StripeClient, reader_id: str
) -> None:
    intent = card_present_intent(client, 1300)
    client.v1.terminal.readers.process_payment_intent(reader_id, {"payment_intent": intent.id})
    client.v1.test_helpers.terminal.readers.present_payment_method(reader_id)
    error = _caught(
        lambda: client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 1301})
    )
    _check(error, Expected(stripe.InvalidRequestError, 400, "invalid_request_error"))


READER_FAULTS: dict[str, Callable[[Emulator, str], None]] = {
    "terminal_reader_busy": lambda emulator, reader: emulator.set_reader_busy(reader),
    "terminal_reader_offline": lambda emulator, reader: emulator.set_reader_offline(reader),
    "terminal_reader_timeout": lambda emulator, reader: emulator.set_reader_timeout(reader),
}


@pytest.mark.parametrize("code", READER_FAULTS)
def test_reader_faults_are_stripes_400_invalid_request_errors(
    client: stripe.StripeClient, server: EmulatorServer, code: str
) -> None:
    location = client.v1.terminal.locations.create(
        {"display_name": "Fault bench", "address": {"country": "US", "line1": "9 Dock Rd"}}
    )
    reader = client.v1.terminal.readers.create(
        {"registration_code": "simulated-wpe", "location": location.id}
    )
    READER_FAULTS[code](server.emulator, reader.id)
    intent = card_present_intent(client, 1400)
    error = _caught(
        lambda: client.v1.terminal.readers.process_payment_intent(
            reader.id, {"payment_intent": intent.id}
        )
    )
    _check(error, Expected(stripe.InvalidRequestError, 400, "invalid_request_error", code))


def test_server_errors_are_api_errors(client: stripe.StripeClient, server: EmulatorServer) -> None:
    server.emulator.add_api_fault("error", method="GET", path="/v1/refunds", count=1, status=500)
    error = _caught(lambda: client.v1.refunds.list())
    _check(error, Expected(stripe.APIError, 500, "api_error"))


def test_a_live_key_is_refused_with_401(server: EmulatorServer) -> None:
    live = stripe.StripeClient(
        "sk_live_notallowedhere", base_addresses={"api": server.url}, max_network_retries=0
    )
    error = _caught(lambda: live.v1.terminal.readers.list())
    _check(error, Expected(stripe.AuthenticationError, 401, "invalid_request_error"))


def test_an_unknown_url_is_a_404(client: stripe.StripeClient) -> None:
    error = _caught(lambda: client.raw_request("get", "/v1/terminal/teapots"))
    details = _check(error, Expected(stripe.InvalidRequestError, 404, "invalid_request_error"))
    assert "Unrecognized request URL" in details["message"]
