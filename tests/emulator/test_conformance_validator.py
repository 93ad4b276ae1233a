"""The OpenAPI validator itself: it passes Stripe's own examples and catches what Stripe never sends.

Without these, a translation bug (say, every schema turned into "anything goes") would make every
conformance test pass without checking anything.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.emulator.openapi import (
    assert_valid,
    errors_for,
    fixture,
    list_schema_errors,
    missing_keys,
)

RESOURCES = ("terminal.location", "terminal.reader", "payment_intent", "charge", "refund", "event")


@pytest.mark.parametrize("resource", RESOURCES)
def test_stripes_own_examples_validate(resource: str) -> None:
    assert errors_for(fixture(resource), resource) == []


def _reader(**changes: Any) -> dict[str, Any]:
    reader = copy.deepcopy(fixture("terminal.reader"))
    reader.update(changes)
    return reader


def test_a_missing_required_field_is_caught() -> None:
    reader = _reader()
    del reader["livemode"]
    assert errors_for(reader, "terminal.reader") == ["<root>: 'livemode' is a required property"]


def test_a_null_where_stripe_never_sends_one_is_caught() -> None:
    assert errors_for(_reader(label=None), "terminal.reader") == [
        "label: None is not of type 'string'"
    ]


def test_nullable_fields_take_null() -> None:
    assert errors_for(_reader(action=None, status=None, location=None), "terminal.reader") == []


def test_expandable_fields_take_an_id_or_a_valid_object() -> None:
    assert errors_for(_reader(location="tml_123"), "terminal.reader") == []
    location = copy.deepcopy(fixture("terminal.location"))
    assert errors_for(_reader(location=location), "terminal.reader") == []
    del location["display_name"]
    assert errors_for(_reader(location=location), "terminal.reader") == [
        "location: 'display_name' is a required property"
    ]


def test_closed_enums_stay_closed_and_newer_values_are_known() -> None:
    assert errors_for(_reader(device_type="simulated_stripe_s700"), "terminal.reader") == []
    assert errors_for(_reader(device_type="toaster"), "terminal.reader") != []
    intent = copy.deepcopy(fixture("payment_intent"))
    intent["status"] = "paid"
    assert errors_for(intent, "payment_intent") != []


def test_open_ended_enums_accept_newer_values() -> None:
    action = {"type": "collect_inputs", "status": "in_progress"}
    assert errors_for(_reader(action=action), "terminal.reader") == []


def test_events_are_checked_down_to_their_object() -> None:
    event = copy.deepcopy(fixture("event"))
    event["type"] = "terminal.reader.action_succeeded"
    event["data"]["object"] = _reader(label=None)
    assert errors_for(event, "event") == []  # the envelope alone is fine
    with pytest.raises(AssertionError, match=r"data\.object label"):
        assert_valid(event, "event")


def test_list_envelopes_and_items_are_checked() -> None:
    listed = {
        "object": "list",
        "data": [_reader()],
        "has_more": False,
        "url": "/v1/terminal/readers",
    }
    assert list_schema_errors(listed, "/v1/terminal/readers") == []
    listed["data"] = [_reader(label=None)]
    del listed["has_more"]
    assert list_schema_errors(listed, "/v1/terminal/readers") == [
        "<root>: 'has_more' is a required property",
        "data/0/label: None is not of type 'string'",
    ]


def test_missing_keys_are_found_at_any_depth() -> None:
    theirs = {"a": 1, "b": {"c": 2, "d": {"e": 3}}}
    ours = {"a": 1, "b": {"d": {}}}
    assert sorted(missing_keys(ours, theirs)) == ["b.c", "b.d.e"]
