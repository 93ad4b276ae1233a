"""``/v1/terminal/locations``."""

from __future__ import annotations

from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.ids import new_id
from countertop.emulator.listing import LIST_PARAMS, list_page
from countertop.emulator.resources.common import deleted, load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

KIND = "terminal.location"
_ADDRESS = ("line1", "line2", "city", "state", "postal_code", "country")
_FIELDS = ("display_name", "address", "metadata", "configuration_overrides", "phone")


def _address(value: p.Params, current: Obj | None) -> Obj:
    p.allowed(value, _ADDRESS, "address")
    result = dict(current or dict.fromkeys(_ADDRESS))
    for name in _ADDRESS:
        if name in value:
            result[name] = p.text(value, name, max_length=500, parent="address")
    return result


def _configuration(ctx: Ctx, value: str | None) -> str | None:
    if value:
        load(ctx, "configurations", "terminal.configuration", value, "configuration_overrides")
    return value or None


def create(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, _FIELDS)
    display_name = p.text(params, "display_name", required=True, max_length=1000)
    address = p.mapping(params, "address", required=True)
    assert address is not None
    p.text(address, "country", required=True, parent="address")
    location: Obj = {
        "id": new_id("tml_"),
        "object": "terminal.location",
        "address": _address(address, None),
        "display_name": display_name,
        "livemode": False,
        "metadata": p.metadata(None, params.get("metadata")),
    }
    overrides = _configuration(ctx, p.text(params, "configuration_overrides"))
    if overrides:
        location["configuration_overrides"] = overrides
    phone = p.text(params, "phone")
    if phone:
        location["phone"] = phone
    return ctx.account.add("locations", location)


def _find(ctx: Ctx) -> Obj:
    return load(ctx, "locations", KIND, ctx.args[0], "location")


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return _find(ctx)


def update(ctx: Ctx) -> Obj:
    location = _find(ctx)
    params = ctx.params
    p.allowed(params, _FIELDS)
    display_name = p.text(params, "display_name", max_length=1000)
    address = p.mapping(params, "address")
    new_address = None
    if address is not None:
        new_address = _address(address, location["address"])
        if new_address["country"] != location["address"]["country"]:
            raise invalid("You cannot change the country of a location.", "address[country]")
    meta = p.metadata(location["metadata"], params.get("metadata"))
    if display_name is not None:
        location["display_name"] = display_name
    if new_address is not None:
        location["address"] = new_address
    if "configuration_overrides" in params:
        overrides = _configuration(ctx, p.text(params, "configuration_overrides"))
        if overrides:
            location["configuration_overrides"] = overrides
        else:
            location.pop("configuration_overrides", None)
    if "phone" in params:
        location["phone"] = p.text(params, "phone") or None
    location["metadata"] = meta
    return ctx.account.changed("locations", location)


def delete(ctx: Ctx) -> Obj:
    location = retrieve(ctx)  # DELETE takes no parameters either
    ctx.account.remove("locations", location["id"])
    return deleted(location)


def list_all(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, LIST_PARAMS)
    return list_page(ctx.account, "locations", ctx.params, "/v1/terminal/locations", KIND)


ROUTES: list[Route] = [
    ("POST", "/v1/terminal/locations", create),
    ("GET", "/v1/terminal/locations", list_all),
    ("GET", "/v1/terminal/locations/{location}", retrieve),
    ("POST", "/v1/terminal/locations/{location}", update),
    ("DELETE", "/v1/terminal/locations/{location}", delete),
]
