"""The wire protocol: auth, errors, idempotency, lists, expand, Connect, raw forms."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from countertop.emulator.server import EmulatorServer
from tests.emulator.conftest import Stripe, make_client

NewIntent = Callable[..., Any]


@pytest.fixture(scope="module")
def http(server: EmulatorServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.secret_key}"}
    )


def test_no_key_is_a_401_in_stripes_shape(server: EmulatorServer) -> None:
    answer = httpx.get(server.url + "/v1/payment_intents")
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "You did not provide an API key" in error["message"]
    assert answer.headers["request-id"].startswith("req_")


def test_malformed_key_is_refused_by_the_library(server: EmulatorServer) -> None:
    client = stripe.StripeClient(
        "pk_live_nope", base_addresses={"api": server.url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError) as raised:
        client.v1.payment_intents.list()
    assert raised.value.http_status == 401


def test_basic_auth_with_the_key_as_user(server: EmulatorServer) -> None:
    token = base64.b64encode(f"{server.secret_key}:".encode()).decode()
    answer = httpx.get(
        server.url + "/v1/terminal/readers", headers={"Authorization": f"Basic {token}"}
    )
    assert answer.status_code == 200
    assert answer.json()["object"] == "list"


def test_root_answers_and_unknown_routes_are_stripes_404(http: httpx.Client) -> None:
    assert httpx.get(str(http.base_url) + "/").status_code == 200
    answer = http.get("/v1/nothing_here")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/nothing_here)"
    )


def test_missing_object_is_resource_missing(client: Stripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve("pi_missing")
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert "No such payment_intent: 'pi_missing'" in raised.value.user_message


def test_missing_and_unknown_parameters(client: Stripe) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.create({"currency": "usd"})
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "amount")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.payment_intents.create({"amount": 100, "currency": "usd", "colour": "red"})
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "colour")


def test_curl_style_arrays_and_booleans(http: httpx.Client) -> None:
    body = (
        "amount=1000&currency=usd&payment_method_types[]=card_present&payment_method_types[]=interac_present"
        "&metadata[order]=42&expand[]=latest_charge"
    )
    answer = http.post(
        "/v1/payment_intents",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    pi = answer.json()
    assert pi["payment_method_types"] == ["card_present", "interac_present"]
    assert pi["metadata"] == {"order": "42"}
    assert pi["latest_charge"] is None


def test_empty_string_unsets_metadata(client: Stripe) -> None:
    pi = client.v1.payment_intents.create(
        {"amount": 500, "currency": "usd", "metadata": {"a": "1", "b": "2"}}
    )
    pi = client.v1.payment_intents.update(pi.id, {"metadata": {"a": ""}})
    assert pi.metadata.to_dict() == {"b": "2"}
    pi = client.v1.payment_intents.update(pi.id, {"metadata": ""})
    assert pi.metadata.to_dict() == {}


def test_stripe_version_header_is_accepted(server: EmulatorServer) -> None:
    client = make_client(server, stripe_version="2023-10-16")
    assert (
        client.v1.payment_intents.create({"amount": 700, "currency": "usd"}).status
        == "requires_payment_method"
    )


def test_idempotent_replay(http: httpx.Client, client: Stripe) -> None:
    key = str(uuid.uuid4())
    data = {"amount": "1234", "currency": "usd"}
    first = http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": key})
    second = http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": key})
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["original-request"] == first.headers["request-id"]
    same = client.v1.payment_intents.create(
        {"amount": 1234, "currency": "usd"}, {"idempotency_key": key}
    )
    assert same.id == first.json()["id"]


def test_idempotency_key_with_other_parameters(client: Stripe) -> None:
    key = str(uuid.uuid4())
    client.v1.payment_intents.create({"amount": 1000, "currency": "usd"}, {"idempotency_key": key})
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(
            {"amount": 2000, "currency": "usd"}, {"idempotency_key": key}
        )
    assert raised.value.http_status == 400
    assert key in raised.value.user_message


def test_idempotency_key_in_flight_is_a_409(server: EmulatorServer, http: httpx.Client) -> None:
    server.emulator.add_api_fault(
        "latency", method="POST", path="/v1/payment_intents", delay_ms=300
    )
    key = str(uuid.uuid4())
    data = {"amount": "900", "currency": "usd"}
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                str(http.base_url) + "/v1/payment_intents",
                data=data,
                headers={**http.headers, "Idempotency-Key": key},
            )
        )
    )
    slow.start()
    while server.emulator.idempotency.get("", key) is None:  # until the first one is running
        threading.Event().wait(0.01)
    second = http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": key})
    slow.join()
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_in_use"
    assert answers[0].status_code == 200


def test_validation_errors_are_not_saved_under_the_key(client: Stripe) -> None:
    key = str(uuid.uuid4())
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create({"currency": "usd"}, {"idempotency_key": key})
    pi = client.v1.payment_intents.create(
        {"currency": "usd", "amount": 600}, {"idempotency_key": key}
    )
    assert pi.amount == 600


def test_pagination_newest_first(server: EmulatorServer) -> None:
    client = make_client(server, stripe_account="acct_pages")
    created = [
        client.v1.terminal.locations.create(
            {"display_name": f"L{i}", "address": {"country": "US"}}
        ).id
        for i in range(7)
    ]
    newest_first = list(reversed(created))
    page = client.v1.terminal.locations.list({"limit": 3})
    assert [loc.id for loc in page.data] == newest_first[:3]
    assert page.has_more is True
    assert page.url == "/v1/terminal/locations"
    page2 = client.v1.terminal.locations.list({"limit": 3, "starting_after": page.data[-1].id})
    assert [loc.id for loc in page2.data] == newest_first[3:6]
    page3 = client.v1.terminal.locations.list({"limit": 3, "starting_after": page2.data[-1].id})
    assert [loc.id for loc in page3.data] == newest_first[6:]
    assert page3.has_more is False
    back = client.v1.terminal.locations.list({"limit": 2, "ending_before": page2.data[0].id})
    assert [loc.id for loc in back.data] == newest_first[1:3]
    assert back.has_more is True
    assert [
        loc.id for loc in client.v1.terminal.locations.list({"limit": 100}).auto_paging_iter()
    ] == newest_first
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.terminal.locations.list({"limit": 101})


def test_expand_dotted_paths_and_inside_lists(
    client: Stripe, reader: Any, new_intent: NewIntent
) -> None:
    pi = new_intent()
    client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
    with_intent = client.v1.terminal.readers.retrieve(
        reader.id, {"expand": ["action.process_payment_intent.payment_intent", "location"]}
    )
    assert with_intent.action.process_payment_intent.payment_intent.id == pi.id
    assert with_intent.location.object == "terminal.location"
    client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
    listed = client.v1.payment_intents.list({"limit": 1, "expand": ["data.latest_charge"]})
    assert listed.data[0].latest_charge.object == "charge"
    deep = client.v1.payment_intents.retrieve(pi.id, {"expand": ["latest_charge.payment_intent"]})
    assert deep.latest_charge.payment_intent.id == pi.id
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve(pi.id, {"expand": ["amount"]})
    assert raised.value.param == "expand"


def test_connected_accounts_have_separate_state(server: EmulatorServer, client: Stripe) -> None:
    first = make_client(server, stripe_account="acct_first")
    second = make_client(server, stripe_account="acct_second")
    pi = first.v1.payment_intents.create({"amount": 1100, "currency": "usd"})
    assert first.v1.payment_intents.retrieve(pi.id).id == pi.id
    with pytest.raises(stripe.InvalidRequestError):
        second.v1.payment_intents.retrieve(pi.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(pi.id)
    event = first.v1.events.list({"type": "payment_intent.created", "limit": 1}).data[0]
    assert event.account == "acct_first"
    assert second.v1.events.list().data == []


def test_request_id_on_every_answer(http: httpx.Client) -> None:
    for answer in (http.get("/v1/events"), http.get("/v1/nope"), http.post("/v1/refunds")):
        assert answer.headers["request-id"].startswith("req_")


async def test_the_async_client_works_too(server: EmulatorServer) -> None:
    client: Any = stripe.StripeClient(
        server.secret_key,
        base_addresses={"api": server.url},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )
    pi = await client.v1.payment_intents.create_async({"amount": 1500, "currency": "usd"})
    fetched = await client.v1.payment_intents.retrieve_async(pi.id)
    assert fetched.id == pi.id
    listed = await client.v1.payment_intents.list_async({"limit": 1})
    assert listed.data[0].id == pi.id


def test_ids_stay_unique_when_the_host_seeds_the_shared_random_generator() -> None:
    import random

    from countertop.emulator.ids import new_id

    random.seed(0)
    first = new_id("tml_")
    random.seed(0)
    assert new_id("tml_") != first
