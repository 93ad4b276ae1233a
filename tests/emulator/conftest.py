"""One emulator per test module, driven through the official ``stripe`` library."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from countertop.emulator.server import EmulatorServer

# The stripe client, typed loosely: its generated types make every nested field Optional, which
# would bury these behaviour tests under None checks.
Stripe = Any


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    emulator = EmulatorServer().start()
    yield emulator
    emulator.stop()


def make_client(server: EmulatorServer, **options: Any) -> stripe.StripeClient:
    return stripe.StripeClient(
        server.secret_key,
        base_addresses={"api": server.url},
        max_network_retries=options.pop("max_network_retries", 0),
        **options,
    )


@pytest.fixture(scope="module")
def client(server: EmulatorServer) -> Stripe:
    return make_client(server)


@pytest.fixture(scope="module")
def location(client: Stripe) -> Any:
    return client.v1.terminal.locations.create(
        {
            "display_name": "Corner Shop",
            "address": {
                "line1": "1 Market St",
                "city": "San Francisco",
                "state": "CA",
                "postal_code": "94105",
                "country": "US",
            },
        }
    )


@pytest.fixture
def reader(client: Stripe, location: Any) -> Any:
    return client.v1.terminal.readers.create(
        {"registration_code": "simulated-s700", "location": location.id, "label": "Till"}
    )


@pytest.fixture
def new_intent(client: Stripe) -> Callable[..., Any]:
    def create(amount: int = 2500, **extra: Any) -> Any:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": "usd",
            "allowed_payment_method_types": ["card_present"],
            "capture_method": "manual",
        }
        params.update(extra)
        return client.v1.payment_intents.create(params)

    return create


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """A tiny webhook endpoint that records what it receives and answers ``statuses`` in turn."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def types(self) -> list[str]:
        import json

        with self.lock:
            return [json.loads(item.body)["type"] for item in self.received]

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.statuses.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = state.next_status()
            with state.lock:
                state.received.append(
                    Received(body, {k.lower(): v for k, v in self.headers.items()})
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{http.server_address[1]}/webhook"
    thread = threading.Thread(target=http.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    http.shutdown()
    http.server_close()
