"""The Stripe API resources the emulator serves, one module each."""

from __future__ import annotations

from countertop.emulator.resources import (
    charges,
    collect_inputs,
    events,
    locations,
    payment_intents,
    reader_actions,
    readers,
    refunds,
    setup_intents,
    terminal_settings,
    test_helpers,
    webhook_endpoints,
)
from countertop.emulator.routing import Route

ROUTES: list[Route] = [
    *locations.ROUTES,
    *readers.ROUTES,
    *reader_actions.ROUTES,
    *collect_inputs.ROUTES,
    *setup_intents.ROUTES,
    *test_helpers.ROUTES,
    *payment_intents.ROUTES,
    *charges.ROUTES,
    *refunds.ROUTES,
    *events.ROUTES,
    *webhook_endpoints.ROUTES,
    *terminal_settings.ROUTES,
]
