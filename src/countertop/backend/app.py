"""The FastAPI application factory: settings in, a wired app out."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from countertop import __version__
from countertop.backend import reconcile_schedule, webhooks
from countertop.backend.api import (
    events,
    locations,
    ops,
    orders,
    payments,
    reader_configs,
    readers,
    receipts,
    reconcile,
    session,
    system,
)
from countertop.backend.errors import install_error_handlers
from countertop.backend.live import create_hub
from countertop.backend.logs import RequestContextMiddleware, configure_logging
from countertop.backend.services import runtime
from countertop.backend.services.seed import Demo
from countertop.backend.settings import Settings
from countertop.backend.store.busy import install_busy_handlers
from countertop.backend.store.db import Database
from countertop.backend.webhooks import WebhookApp
from countertop.pos import router as pos


class CountertopApp(FastAPI):
    """FastAPI behind two plain ASGI layers: the request context, then the webhook fast path.

    Every HTTP request first gets its request id, access log line and metrics (outermost, so even
    an answer from Starlette's last-resort error handler carries its id); `POST /webhooks/stripe`
    is then answered without FastAPI's routing and middleware (see `webhooks.WebhookApp`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._front = RequestContextMiddleware(WebhookApp(self._fastapi, self.state))

    async def _fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._front(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    on_ready: Callable[[Demo | None], None] | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """The app; `on_ready` is called once started (with the demo store in emulator mode).

    `freeze_gc` (for a server process, which holds one app for its life): once started, what
    start-up made (modules, routes, the schema, the OpenAPI document) is moved out of the cyclic
    garbage collector's sight, so that its full collections no longer walk it.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        await db.migrate()
        app.state.db = db
        hub = create_hub(settings.database_url)
        await hub.start()
        app.state.hub = hub
        payments = await runtime.start(app.state, db, settings)
        daily = reconcile_schedule.start_daily(payments.services)
        if on_ready is not None:
            on_ready(payments.demo)
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await reconcile_schedule.stop_daily(daily)
            await runtime.stop(payments)
            await hub.close()
            await db.dispose()

    app = CountertopApp(
        title="Countertop",
        version=__version__,
        summary="In-person card payments on Stripe Terminal smart readers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    configure_logging(settings)
    install_error_handlers(app)
    install_busy_handlers(app)
    for module in (system, session, locations, readers, orders, payments, events, webhooks, ops):
        app.include_router(module.router)
    app.include_router(receipts.router)
    app.include_router(reconcile.router)
    app.include_router(reader_configs.router)
    app.include_router(pos.router)
    return app
