"""Start-up and shut-down of the payment side of the app: services, webhook secret, seed, worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from countertop.backend import auth
from countertop.backend.connect import ConnectedAccounts, ConnectGateway
from countertop.backend.jobs.worker import Worker
from countertop.backend.services.context import Services
from countertop.backend.services.seed import Demo, register_webhook_endpoint, seed_demo
from countertop.backend.settings import Settings
from countertop.backend.store.db import Database

log = logging.getLogger("countertop.runtime")


@dataclass
class Runtime:
    services: Services
    worker: Worker | None
    demo: Demo | None


async def start(
    app_state: Any, db: Database, settings: Settings, *, worker: bool = True
) -> Runtime:
    """Wire the services onto `app_state`; in emulator mode register the webhook and seed the demo."""
    gateway = ConnectGateway(settings, ConnectedAccounts(db))
    svc = Services(db=db, gateway=gateway, settings=settings, app_state=app_state)
    app_state.services = svc
    secret = settings.stripe_webhook_secret
    app_state.webhook_secret = secret.get_secret_value() if secret else None
    demo = None
    if settings.emulator and gateway.configured:
        public_url = settings.public_url or "http://127.0.0.1:8000"
        app_state.webhook_secret = await register_webhook_endpoint(svc, public_url)
        demo = await seed_demo(svc)
    elif gateway.configured and not app_state.webhook_secret:
        log.warning("STRIPE_WEBHOOK_SECRET is not set: webhooks are refused; the sweep polls")
    admin = settings.admin_credential.get_secret_value() if settings.admin_credential else ""
    if demo is None and admin:
        # With Stripe itself the admin still comes from the environment: it creates the operators.
        await auth.ensure_admin(db, admin)
    app_state.demo = demo
    running = None
    if worker and gateway.configured:
        running = Worker(svc)
        running.start()
    app_state.worker = running
    return Runtime(svc, running, demo)


async def stop(runtime: Runtime) -> None:
    if runtime.worker is not None:
        await runtime.worker.stop()
    await runtime.services.drain()
    await runtime.services.gateway.close()
