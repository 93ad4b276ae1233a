"""Locations live in Stripe (`terminal.location`); the backend lists and manages them there."""

from __future__ import annotations

from typing import Any

from countertop.backend.connect import ConnectGateway, location_account
from countertop.backend.errors import ApiError
from countertop.backend.services.context import Services
from countertop.backend.services.readers import stripe_error
from countertop.backend.stripe_gateway import StripeFailure

Json = dict[str, Any]
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")


def location_json(location: Json, account: str | None = None) -> Json:
    address = location.get("address") or {}
    return {
        "id": location["id"],
        # The connected account it belongs to (None: the platform account).
        "account": account,
        "display_name": location.get("display_name"),
        "address": {k: address.get(k) for k in ADDRESS_FIELDS if address.get(k) is not None},
        # The reader configuration its readers use (None: the account default).
        "configuration": location.get("configuration_overrides") or None,
    }


async def list_locations(svc: Services, location_ids: list[str] | None) -> list[Json]:
    try:
        found = await svc.gateway.list_locations()
    except StripeFailure as failure:
        raise stripe_error(failure, "location", "*") from None
    return [
        location_json(loc, await location_account(svc.gateway, loc["id"]))
        for loc in found
        if location_ids is None or loc["id"] in location_ids
    ]


async def get_location(svc: Services, location_id: str) -> Json:
    try:
        found = await svc.gateway.retrieve_location(location_id)
    except StripeFailure as failure:
        raise stripe_error(failure, "location", location_id) from None
    return location_json(found, await location_account(svc.gateway, location_id))


async def create_location(
    svc: Services, display_name: str, address: Json, account: str | None = None
) -> Json:
    """Create a location on the platform account, or on the connected `account` (`acct_...`)."""
    if account and not isinstance(svc.gateway, ConnectGateway):
        raise ApiError(400, "validation_error", "Invalid request", "Connect is not enabled.")
    try:
        created = await svc.gateway.create_location(
            display_name=display_name, address=address, stripe_account=account
        )
    except StripeFailure as failure:
        raise stripe_error(failure, "location", display_name) from None
    if account and isinstance(svc.gateway, ConnectGateway):
        await svc.gateway.accounts.remember_location(created["id"], account, svc.clock())
    return location_json(created, account)


async def update_location(svc: Services, location_id: str, changes: Json) -> Json:
    try:
        updated = await svc.gateway.update_location(location_id, changes=changes)
    except StripeFailure as failure:
        raise stripe_error(failure, "location", location_id) from None
    return location_json(updated, await location_account(svc.gateway, location_id))
