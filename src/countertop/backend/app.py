"""The FastAPI application factory: settings in, a wired app out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

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
from countertop.pos import router as pos


def create_app(
    settings: Settings | None = None, *, on_ready: Callable[[Demo | None], None] | None = None
) -> FastAPI:
    """The app; `on_ready` is called once started (with the demo store in emulator mode)."""
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
        try:
            yield
        finally:
            await reconcile_schedule.stop_daily(daily)
            await runtime.stop(payments)
            await hub.close()
            await db.dispose()

    app = FastAPI(
        title="Countertop",
        version=__version__,
        summary="In-person card payments on Stripe Terminal smart readers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    configure_logging(settings)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    install_busy_handlers(app)
    for module in (system, session, locations, readers, orders, payments, events, webhooks, ops):
        app.include_router(module.router)
    app.include_router(receipts.router)
    app.include_router(reconcile.router)
    app.include_router(reader_configs.router)
    app.include_router(pos.router)
    return app
