"""`countertop serve`: configure from the environment and run the app under uvicorn."""

from __future__ import annotations

import os
import socket

import uvicorn
from fastapi import FastAPI
from rich.console import Console

from countertop.backend.app import create_app
from countertop.backend.services.seed import Demo
from countertop.backend.settings import Settings

SHUTDOWN_GRACE_SECONDS = 5
# How long an idle keep-alive connection stays open. Longer than the idle timeout of common load
# balancers toward their upstreams (60 s) and of HTTP clients' pools (httpx: 5 s), so it is always
# the client that closes it: when the server closes first, a request sent at that moment is lost
# (uvicorn's default of 5 s made one start-payment call in 1,400 fail so under load).
KEEP_ALIVE_SECONDS = 75


def announce(url: str, demo: Demo | None, console: Console | None = None) -> None:
    """Tell the person at the terminal where to go and, in emulator mode, how to sign in.

    Printed to the console only: credentials never go to a log.
    """
    console = console or Console()
    console.print(f"[bold]Countertop[/] is serving on {url}")
    if demo is not None:
        console.print(f"  demo store: Countertop Demo Store ({demo.location_id})")
        console.print(f"  demo operator credential: {demo.operator_credential}")
        console.print(f"  admin credential: {demo.admin_credential}")


class ServeError(Exception):
    """A configuration `countertop serve` cannot run with; the message says what to change."""


def check_workers(workers: int, settings: Settings, embedded: bool) -> None:
    if workers < 1:
        raise ServeError("--workers must be at least 1.")
    if workers == 1:
        return
    if embedded or settings.emulator:
        raise ServeError(
            "Several workers need STRIPE_SECRET_KEY and a webhook endpoint registered with "
            "STRIPE_WEBHOOK_SECRET: in emulator mode each process would register its own."
        )
    if settings.stripe_webhook_secret is None:
        raise ServeError(
            "Several workers need STRIPE_WEBHOOK_SECRET: every worker must verify the same "
            "endpoint's signatures."
        )
    if not settings.database_url.startswith("postgresql"):
        raise ServeError(
            "Several workers need PostgreSQL (DATABASE_URL=postgresql+asyncpg://...): live "
            "updates reach every worker through LISTEN/NOTIFY, which SQLite does not have."
        )


def serve(
    host: str,
    port: int,
    env_overrides: dict[str, str] | None = None,
    *,
    workers: int = 1,
    embedded: bool = False,
) -> None:
    os.environ.update(env_overrides or {})
    settings = Settings()
    check_workers(workers, settings, embedded)
    if not settings.public_url:
        settings.public_url = f"http://{host}:{port}"
    url = f"http://{host}:{port}"
    if workers > 1:
        os.environ.setdefault("COUNTERTOP_PUBLIC_URL", settings.public_url)
        announce(url, None)
        uvicorn.run(
            "countertop.backend.asgi:create",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            log_config=None,
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        return
    app = create_app(settings, on_ready=lambda demo: announce(url, demo), freeze_gc=True)
    # log_config=None: uvicorn's records go through the app's redacting handler (logs.py).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    StreamEndingServer(config, app).run()


class StreamEndingServer(uvicorn.Server):
    """Ends the live event streams first when shutting down, so open POS pages do not hold the
    server up (their browsers reconnect, to another instance behind a load balancer). Requests
    still running after SHUTDOWN_GRACE_SECONDS are cancelled."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        hub = getattr(self.app.state, "hub", None)
        if hub is not None:
            hub.end_streams()
        await super().shutdown(sockets)
