"""The whole stack for integration tests: the emulator, the backend under uvicorn on a free port
(its real HTTP stack, webhooks included), and clients for both."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from countertop.backend.app import create_app
from countertop.backend.services.seed import Demo
from countertop.backend.settings import Settings
from countertop.emulator.server import EmulatorServer

ADMIN = "admin-" + secrets.token_urlsafe(16)
OPERATOR = "till-" + secrets.token_urlsafe(16)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@dataclass
class Backend:
    url: str
    app: FastAPI
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def demo(self) -> Demo:
        demo: Demo = self.app.state.demo
        return demo

    def client(self, credential: str = OPERATOR) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=bearer(credential), timeout=30)


def backend_settings(
    database_url: str, emulator: EmulatorServer, port: int, **extra: str
) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": emulator.secret_key,
        "STRIPE_API_BASE": emulator.url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "COUNTERTOP_EMULATOR": "1",
        "COUNTERTOP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "COUNTERTOP_ADMIN_CREDENTIAL": ADMIN,
        "COUNTERTOP_OPERATOR_CREDENTIAL": OPERATOR,
        "COUNTERTOP_SWEEP_INTERVAL": "0.2",
        "COUNTERTOP_WEBHOOK_GRACE": "0.5",
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]


@asynccontextmanager
async def running_backend(
    database_url: str, emulator: EmulatorServer, **extra: str
) -> AsyncIterator[Backend]:
    # IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections (no delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(backend_settings(database_url, emulator, port, **extra))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the backend did not start")
        await asyncio.sleep(0.01)
    try:
        yield Backend(f"http://127.0.0.1:{port}", app, server, task)
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def told_only_by_the_test(
    database_url: str, emulator: EmulatorServer, stripe_api: Stripe, **extra: str
) -> AsyncIterator[Backend]:
    """A backend that Stripe's own deliveries do not reach and whose sweep is far off: only the
    events the test sends tell it what happened at Stripe."""
    await stripe_api.control("POST", "webhooks/faults", {"kind": "drop", "count": None})
    try:
        async with running_backend(
            database_url,
            emulator,
            COUNTERTOP_SWEEP_INTERVAL="3600",
            COUNTERTOP_WEBHOOK_GRACE="3600",
            **extra,
        ) as backend:
            yield backend
    finally:
        await stripe_api.control("DELETE", "webhooks/faults")


class Stripe:
    """Reads the emulator's state the way anyone would: through the Stripe API and its controls."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.http = httpx.AsyncClient(
            base_url=emulator.url, headers=bearer(emulator.secret_key), timeout=30
        )

    async def payment_intents(self) -> list[dict[str, Any]]:
        response = await self.http.get("/v1/payment_intents", params={"limit": 100})
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def payment_intent(self, pi: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/payment_intents/{pi}")
        assert response.status_code == 200, response.text
        return response.json()

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.http.request(method, f"/_emulator/{path}", json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    async def flush(self) -> None:
        await self.control("POST", "webhooks/flush", {"timeout": 20})

    async def event(self, event_type: str, payment_intent: str) -> dict[str, Any] | None:
        """Stripe's latest event of `event_type` about a PaymentIntent, if there is one yet."""
        response = await self.http.get("/v1/events", params={"limit": 100, "type": event_type})
        assert response.status_code == 200, response.text
        found = [e for e in response.json()["data"] if e["data"]["object"]["id"] == payment_intent]
        return found[0] if found else None

    async def close(self) -> None:
        await self.http.aclose()


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met in {timeout} s; last value: {last!r}")
