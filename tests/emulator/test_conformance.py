"""The emulator's objects, as the official `stripe` library receives them, match Stripe's own.

One full server-driven flow runs once per module through `stripe.StripeClient`: a location, a
simulated reader, a cart on its display, a PaymentIntent handed to the reader, a simulated tap,
capture, a partial refund, a declined card, a cancelled PaymentIntent, the events of all of it, and
deletes. Every raw JSON body is kept and checked two ways:

- against the 2023-09-12 OpenAPI description (`openapi.py` explains the translation);
- against Stripe's current example objects (fixtures3.json): the emulator must carry every key
  Stripe's example has, at any depth, save the documented exceptions below.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from countertop.emulator.server import EmulatorServer
from tests.emulator.openapi import (
    assert_valid,
    assert_valid_list,
    card_present_intent,
    fixture,
    flow_client,
    missing_keys,
    raw_body,
)

Body = dict[str, Any]

# name of the captured body -> schema in the spec, or the list path it was listed from
OBJECT_BODIES: dict[str, str] = {
    "location.create": "terminal.location",
    "location.update": "terminal.location",
    "reader.create": "terminal.reader",
    "reader.retrieve_expanded_location": "terminal.reader",
    "reader.set_reader_display": "terminal.reader",
    "reader.cancel_action": "terminal.reader",
    "reader.process_payment_intent": "terminal.reader",
    "reader.present_payment_method": "terminal.reader",
    "reader.retrieve_expanded_action": "terminal.reader",
    "reader.declined": "terminal.reader",
    "payment_intent.create": "payment_intent",
    "payment_intent.authorized": "payment_intent",
    "payment_intent.captured": "payment_intent",
    "payment_intent.declined": "payment_intent",
    "payment_intent.canceled": "payment_intent",
    "charge.authorized": "charge",
    "charge.refunded": "charge",
    "charge.declined": "charge",
    "refund.create": "refund",
    "refund.retrieve": "refund",
    "event.retrieve": "event",
    "reader.delete": "deleted_terminal.reader",
    "location.delete": "deleted_terminal.location",
}
LIST_BODIES: dict[str, str] = {
    "location.list": "/v1/terminal/locations",
    "reader.list": "/v1/terminal/readers",
    "payment_intent.list": "/v1/payment_intents",
    "charge.list": "/v1/charges",
    "refund.list": "/v1/refunds",
    "event.list": "/v1/events",
}
# Stripe example object -> the body of ours that shows the same resource
FIXTURE_BODIES: dict[str, str] = {
    "terminal.location": "location.create",
    "terminal.reader": "reader.create",
    "payment_intent": "payment_intent.authorized",
    "charge": "charge.authorized",
    "refund": "refund.create",
    "event": "event.retrieve",
}
# Keys of Stripe's examples that our object of the same resource need not carry, because the
# example is another variant of a polymorphic field. Nothing else is exempt.
FIXTURE_KEY_EXCEPTIONS: dict[str, frozenset[str]] = {
    # the example charge was paid online with a card; ours on a reader (card_present). The
    # example shows `refunds`, which Stripe includes only when expanded since 2022-11-15.
    "charge": frozenset({"payment_method_details.card", "refunds"}),
}
# Sub-objects whose shape depends on what they hold; their keys are not compared.
POLYMORPHIC: dict[str, tuple[str, ...]] = {
    # the example event is plan.created, carrying a plan; ours carry Terminal and payment objects
    "event": ("data.object.",),
}


@pytest.fixture(scope="module")
def client(server: EmulatorServer) -> stripe.StripeClient:
    return flow_client(server)


@pytest.fixture(scope="module")
def bodies(client: stripe.StripeClient) -> dict[str, Body]:
    got: dict[str, Body] = {}
    _terminal_setup(client, got)
    _approved_payment(client, got)
    _declined_payment(client, got)
    _events_and_lists(client, got)
    _deletes(client, got)
    return got


def _terminal_setup(client: stripe.StripeClient, got: dict[str, Body]) -> None:
    locations = client.v1.terminal.locations
    readers = client.v1.terminal.readers
    location = locations.create(
        {
            "display_name": "Front of house",
            "address": {
                "line1": "500 Pike St",
                "city": "Seattle",
                "state": "WA",
                "postal_code": "98101",
                "country": "US",
            },
        }
    )
    got["location.create"] = raw_body(location)
    got["location.update"] = raw_body(locations.update(location.id, {"metadata": {"floor": "1"}}))
    reader = readers.create(
        {"registration_code": "simulated-wpe", "location": location.id, "label": "Till 1"}
    )
    got["reader.create"] = raw_body(reader)
    expanded = readers.retrieve(reader.id, {"expand": ["location"]})
    got["reader.retrieve_expanded_location"] = raw_body(expanded)
    shown = readers.set_reader_display(
        reader.id,
        {
            "type": "cart",
            "cart": {
                "currency": "usd",
                "line_items": [{"amount": 450, "description": "Flat white", "quantity": 2}],
                "tax": 100,
                "total": 1000,
            },
        },
    )
    got["reader.set_reader_display"] = raw_body(shown)
    got["reader.cancel_action"] = raw_body(readers.cancel_action(reader.id))


def _reader_id(got: dict[str, Body]) -> str:
    return str(got["reader.create"]["id"])


def _approved_payment(client: stripe.StripeClient, got: dict[str, Body]) -> None:
    readers = client.v1.terminal.readers
    reader_id = _reader_id(got)
    intent = card_present_intent(client, 1000)
    got["payment_intent.create"] = raw_body(intent)
    processing = readers.process_payment_intent(reader_id, {"payment_intent": intent.id})
    got["reader.process_payment_intent"] = raw_body(processing)
    tapped = client.v1.test_helpers.terminal.readers.present_payment_method(reader_id)
    got["reader.present_payment_method"] = raw_body(tapped)
    expanded = readers.retrieve(
        reader_id, {"expand": ["action.process_payment_intent.payment_intent"]}
    )
    got["reader.retrieve_expanded_action"] = raw_body(expanded)
    authorized = client.v1.payment_intents.retrieve(intent.id)
    got["payment_intent.authorized"] = raw_body(authorized)
    charge_id = str(authorized.latest_charge)
    got["charge.authorized"] = raw_body(client.v1.charges.retrieve(charge_id))
    got["payment_intent.captured"] = raw_body(client.v1.payment_intents.capture(intent.id))
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 400})
    got["refund.create"] = raw_body(refund)
    got["refund.retrieve"] = raw_body(client.v1.refunds.retrieve(refund.id))
    got["charge.refunded"] = raw_body(
        client.v1.charges.retrieve(charge_id, {"expand": ["refunds"]})
    )


def _declined_payment(client: stripe.StripeClient, got: dict[str, Body]) -> None:
    reader_id = _reader_id(got)
    intent = card_present_intent(client, 2000)
    client.v1.terminal.readers.process_payment_intent(reader_id, {"payment_intent": intent.id})
    declined = client.v1.test_helpers.terminal.readers.present_payment_method(
        reader_id, {"type": "card_present", "card_present": {"number": "4000000000009995"}}
    )
    got["reader.declined"] = raw_body(declined)
    after = client.v1.payment_intents.retrieve(intent.id)
    got["payment_intent.declined"] = raw_body(after)
    got["charge.declined"] = raw_body(client.v1.charges.retrieve(str(after.latest_charge)))
    canceled = client.v1.payment_intents.cancel(
        intent.id, {"cancellation_reason": "requested_by_customer"}
    )
    got["payment_intent.canceled"] = raw_body(canceled)


def _events_and_lists(client: stripe.StripeClient, got: dict[str, Body]) -> None:
    got["location.list"] = raw_body(client.v1.terminal.locations.list())
    got["reader.list"] = raw_body(client.v1.terminal.readers.list({"limit": 100}))
    expand = {"limit": 100, "expand": ["data.latest_charge", "data.payment_method"]}
    got["payment_intent.list"] = raw_body(client.v1.payment_intents.list(expand))  # type: ignore[arg-type]
    got["charge.list"] = raw_body(client.v1.charges.list({"limit": 100}))
    got["refund.list"] = raw_body(client.v1.refunds.list({"limit": 100}))
    events = client.v1.events.list({"limit": 100})
    got["event.list"] = raw_body(events)
    got["event.retrieve"] = raw_body(client.v1.events.retrieve(events.data[0].id))


def _deletes(client: stripe.StripeClient, got: dict[str, Body]) -> None:
    got["reader.delete"] = raw_body(client.v1.terminal.readers.delete(_reader_id(got)))
    location_id = str(got["location.create"]["id"])
    got["location.delete"] = raw_body(client.v1.terminal.locations.delete(location_id))


@pytest.mark.parametrize(("name", "schema"), OBJECT_BODIES.items())
def test_object_matches_the_openapi_schema(bodies: dict[str, Body], name: str, schema: str) -> None:
    assert_valid(bodies[name], schema)


@pytest.mark.parametrize(("name", "path"), LIST_BODIES.items())
def test_list_matches_the_openapi_schema(bodies: dict[str, Body], name: str, path: str) -> None:
    listed = bodies[name]
    assert listed["data"], f"{path} listed nothing after the flow"
    assert_valid_list(listed, path)


def test_every_event_and_its_object_match_the_schema(bodies: dict[str, Body]) -> None:
    for event in bodies["event.list"]["data"]:
        assert_valid(event, "event")


@pytest.mark.parametrize(("resource", "name"), FIXTURE_BODIES.items())
def test_object_carries_every_key_of_stripes_example(
    bodies: dict[str, Body], resource: str, name: str
) -> None:
    exempt = FIXTURE_KEY_EXCEPTIONS.get(resource, frozenset())
    skipped = POLYMORPHIC.get(resource, ())
    lacking = sorted(
        key
        for key in set(missing_keys(bodies[name], fixture(resource))) - exempt
        if not key.startswith(skipped)
    )
    assert not lacking, f"{name} lacks keys Stripe's {resource} has: {lacking}"


def test_expandable_fields_come_back_as_objects_when_expanded(bodies: dict[str, Body]) -> None:
    listed = bodies["payment_intent.list"]["data"]
    charged = [pi for pi in listed if pi["latest_charge"] is not None]
    assert charged and all(pi["latest_charge"]["object"] == "charge" for pi in charged)
    location = bodies["reader.retrieve_expanded_location"]["location"]
    assert location["object"] == "terminal.location"
    action = bodies["reader.retrieve_expanded_action"]["action"]
    assert action["process_payment_intent"]["payment_intent"]["object"] == "payment_intent"
    refunds = bodies["charge.refunded"]["refunds"]
    assert refunds["object"] == "list"
    assert [r["id"] for r in refunds["data"]] == [bodies["refund.create"]["id"]]


def test_the_flow_walks_stripes_documented_states(bodies: dict[str, Body]) -> None:
    assert bodies["reader.set_reader_display"]["action"]["type"] == "set_reader_display"
    assert bodies["reader.cancel_action"]["action"] is None
    assert bodies["reader.process_payment_intent"]["action"]["status"] == "in_progress"
    assert bodies["reader.present_payment_method"]["action"]["status"] == "succeeded"
    assert bodies["payment_intent.authorized"]["status"] == "requires_capture"
    charge = bodies["charge.authorized"]
    assert (charge["status"], charge["paid"], charge["captured"]) == ("succeeded", True, False)
    assert charge["payment_method_details"]["type"] == "card_present"
    assert bodies["payment_intent.captured"]["status"] == "succeeded"
    assert bodies["charge.refunded"]["amount_refunded"] == 400
    assert bodies["reader.declined"]["action"]["status"] == "failed"
    assert bodies["reader.declined"]["action"]["failure_code"] == "card_declined"
    declined = bodies["payment_intent.declined"]
    assert declined["status"] == "requires_payment_method"
    error = declined["last_payment_error"]
    assert (error["type"], error["code"]) == ("card_error", "card_declined")
    assert error["decline_code"] == "insufficient_funds"
    assert error["payment_method"]["object"] == "payment_method"
    assert error["charge"] == bodies["charge.declined"]["id"]
    assert declined["payment_method"] is None
    failed = bodies["charge.declined"]
    assert (failed["status"], failed["failure_code"]) == ("failed", "card_declined")
    assert bodies["payment_intent.canceled"]["status"] == "canceled"
    assert bodies["reader.delete"]["deleted"] is True


def test_the_flow_raised_the_events_stripe_sends(bodies: dict[str, Body]) -> None:
    types = {event["type"] for event in bodies["event.list"]["data"]}
    expected = {
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
        "charge.succeeded",
        "terminal.reader.action_succeeded",
        "charge.captured",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.created",
        "terminal.reader.action_failed",
        "payment_intent.payment_failed",
        "charge.failed",
        "payment_intent.canceled",
    }
    assert expected <= types, f"missing events: {sorted(expected - types)}"


ID_PREFIXES = {
    "terminal.location": "tml_",
    "terminal.reader": "tmr_",
    "payment_intent": "pi_",
    "charge": "ch_",
    "refund": "re_",
    "event": "evt_",
}


@pytest.mark.parametrize(("name", "schema"), OBJECT_BODIES.items())
def test_ids_carry_stripes_prefixes(bodies: dict[str, Body], name: str, schema: str) -> None:
    body = bodies[name]
    resource = schema.removeprefix("deleted_")
    assert body["id"].startswith(ID_PREFIXES[resource]), body["id"]
    if resource == "payment_intent":
        assert body["client_secret"].startswith(body["id"] + "_secret_")
    if resource == "charge":
        assert str(body["payment_method"]).startswith("pm_")


# event type -> (field of data.object, the value it must hold in that event's snapshot)
EVENT_SNAPSHOTS: dict[str, tuple[str, object]] = {
    "payment_intent.created": ("status", "requires_payment_method"),
    "payment_intent.amount_capturable_updated": ("status", "requires_capture"),
    "payment_intent.succeeded": ("status", "succeeded"),
    "payment_intent.payment_failed": ("status", "requires_payment_method"),
    "payment_intent.canceled": ("status", "canceled"),
    "charge.succeeded": ("status", "succeeded"),
    "charge.captured": ("captured", True),
    "charge.failed": ("status", "failed"),
    "charge.refunded": ("amount_refunded", 400),
    "refund.created": ("object", "refund"),
}


def test_each_event_carries_the_object_as_it_was_then(bodies: dict[str, Body]) -> None:
    for event in bodies["event.list"]["data"]:
        obj = event["data"]["object"]
        if event["type"] in EVENT_SNAPSHOTS:
            field, value = EVENT_SNAPSHOTS[event["type"]]
            assert obj[field] == value, f"{event['type']}: {field} is {obj[field]!r}"
        elif event["type"] in ("terminal.reader.action_succeeded", "terminal.reader.action_failed"):
            assert obj["action"]["status"] == event["type"].removeprefix("terminal.reader.action_")
