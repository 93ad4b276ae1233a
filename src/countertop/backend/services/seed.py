"""Emulator mode: register this backend's webhook endpoint and seed the demo store, idempotently."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from countertop.backend import auth
from countertop.backend.services.context import Services
from countertop.backend.stripe_gateway import WEBHOOK_EVENTS

log = logging.getLogger("countertop.seed")

DEMO_LOCATION = "Countertop Demo Store"
DEMO_ADDRESS = {
    "line1": "1 Market Street",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94105",
    "country": "US",
}
# (registration code of a simulated reader, label)
DEMO_READERS = (("simulated-s700", "Counter 1"), ("simulated-wpe", "Counter 2"))


@dataclass(frozen=True)
class Demo:
    location_id: str
    reader_ids: list[str]
    admin_credential: str
    operator_credential: str


async def register_webhook_endpoint(svc: Services, public_url: str) -> str:
    """Register `<public_url>/webhooks/stripe` (replacing an older one) and return its secret."""
    url = public_url.rstrip("/") + "/webhooks/stripe"
    for endpoint in await svc.gateway.list_webhook_endpoints():
        if endpoint.get("url") == url:
            await svc.gateway.delete_webhook_endpoint(endpoint["id"])
    created = await svc.gateway.create_webhook_endpoint(
        url=url, enabled_events=WEBHOOK_EVENTS, connect=True
    )
    return str(created["secret"])


async def seed_demo(svc: Services) -> Demo:
    """The demo location with a simulated S700 and WisePOS E, the admin and the demo operator."""
    gateway = svc.gateway
    existing = [
        loc for loc in await gateway.list_locations() if loc.get("display_name") == DEMO_LOCATION
    ]
    if existing:
        location_id = str(existing[0]["id"])
    else:
        created = await gateway.create_location(display_name=DEMO_LOCATION, address=DEMO_ADDRESS)
        location_id = str(created["id"])
    readers = await gateway.list_readers(location=location_id)
    labels = {r.get("label"): r["id"] for r in readers}
    reader_ids = []
    for code, label in DEMO_READERS:
        if label not in labels:
            reader = await gateway.create_reader(
                registration_code=code, label=label, location=location_id
            )
            labels[label] = reader["id"]
        reader_ids.append(str(labels[label]))
    settings = svc.settings
    admin = (
        settings.admin_credential.get_secret_value()
        if settings.admin_credential
        else "admin-" + secrets.token_urlsafe(18)
    )
    operator = (
        settings.operator_credential.get_secret_value()
        if settings.operator_credential
        else "till-" + secrets.token_urlsafe(18)
    )
    await auth.ensure_admin(svc.db, admin)
    await auth.ensure_demo_operator(svc.db, operator, [location_id])
    log.info("demo store ready at location %s", location_id)
    return Demo(location_id, reader_ids, admin, operator)
