"""``--state FILE``: everything survives a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import stripe

from countertop.emulator.server import EmulatorServer
from tests.emulator.conftest import make_client


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emulator.sqlite"
    with EmulatorServer(state_file=state) as first:
        client: Any = make_client(first)
        reader = client.v1.terminal.readers.create({"registration_code": "simulated-wpe"})
        pi = client.v1.payment_intents.create(
            {
                "amount": 1000,
                "currency": "usd",
                "allowed_payment_method_types": ["card_present"],
                "capture_method": "manual",
            }
        )
        client.v1.terminal.readers.process_payment_intent(reader.id, {"payment_intent": pi.id})
        client.v1.test_helpers.terminal.readers.present_payment_method(reader.id)
        connected = make_client(first, stripe_account="acct_kept").v1.terminal.locations.create(
            {"display_name": "Kept", "address": {"country": "US"}}
        )
        gone = client.v1.terminal.locations.create(
            {"display_name": "Gone", "address": {"country": "US"}}
        )
        client.v1.terminal.locations.delete(gone.id)

    with EmulatorServer(state_file=state) as second:
        client = make_client(second)
        assert client.v1.payment_intents.retrieve(pi.id).status == "requires_capture"
        assert client.v1.terminal.readers.retrieve(reader.id).action.status == "succeeded"
        assert client.v1.payment_intents.capture(pi.id).status == "succeeded"
        assert (
            make_client(second, stripe_account="acct_kept")
            .v1.terminal.locations.retrieve(connected.id)
            .id
        )
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.terminal.locations.retrieve(gone.id)
        events = [e.type for e in client.v1.events.list({"limit": 100}).data]
        assert events[:2] == ["payment_intent.succeeded", "charge.captured"]
        assert "payment_intent.created" in events

    with EmulatorServer(state_file=state) as third:
        assert make_client(third).v1.payment_intents.retrieve(pi.id).status == "succeeded"


def test_without_a_state_file_nothing_is_kept() -> None:
    with EmulatorServer() as first:
        pi = make_client(first).v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    with EmulatorServer() as second, pytest.raises(stripe.InvalidRequestError):
        make_client(second).v1.payment_intents.retrieve(pi.id)
