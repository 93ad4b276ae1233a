"""``/v1/terminal/readers``: registering simulated readers, and their CRUD."""

from __future__ import annotations

import time

from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.ids import new_id, serial_number
from countertop.emulator.listing import LIST_PARAMS, equal_to, list_page
from countertop.emulator.resources.common import deleted, load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

KIND = "terminal.reader"
SOFTWARE_VERSION = "2.37.2.0"
REGISTRATION_CODES = {
    "simulated-wpe": "simulated_wisepos_e",
    "simulated-s700": "simulated_stripe_s700",
    "simulated-s710": "simulated_stripe_s710",
    "simulated-v660p": "simulated_verifone_v660p",
    "simulated-m425": "simulated_verifone_m425",
    "simulated-p630": "simulated_verifone_p630",
    "simulated-ux700": "simulated_verifone_ux700",
}
DEVICE_TYPES = (
    "bbpos_chipper2x",
    "bbpos_wisepad3",
    "bbpos_wisepos_e",
    "mobile_phone_reader",
    "stripe_m2",
    "stripe_s700",
    "stripe_s710",
    "verifone_P400",
    *REGISTRATION_CODES.values(),
)


def create(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, ("registration_code", "label", "location", "metadata"))
    code = p.text(params, "registration_code", required=True)
    assert code is not None
    device_type = REGISTRATION_CODES.get(code)
    if device_type is None:
        raise invalid(
            "The registration code you provided is invalid. Please double check the code and "
            "try again.",
            "registration_code",
        )
    location = p.text(params, "location")
    if location:
        load(ctx, "locations", "terminal.location", location, "location")
    label = p.text(params, "label", max_length=5000)
    reader: Obj = {
        "id": new_id("tmr_"),
        "object": "terminal.reader",
        "action": None,
        "device_sw_version": SOFTWARE_VERSION,
        "device_type": device_type,
        "ip_address": "0.0.0.0",
        "label": label or code,
        "last_seen_at": int(time.time() * 1000),
        "livemode": False,
        "location": location or None,
        "metadata": p.metadata(None, params.get("metadata")),
        "serial_number": serial_number(),
        "status": "online",
    }
    return ctx.account.add("readers", reader)


def find(ctx: Ctx) -> Obj:
    reader = load(ctx, "readers", KIND, ctx.args[0], "reader")
    if reader["status"] == "online":
        reader["last_seen_at"] = int(time.time() * 1000)
    return reader


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return find(ctx)


def update(ctx: Ctx) -> Obj:
    reader = find(ctx)
    params = ctx.params
    p.allowed(params, ("label", "metadata"))
    meta = p.metadata(reader["metadata"], params.get("metadata"))
    if "label" in params:
        reader["label"] = p.text(params, "label") or ""
    reader["metadata"] = meta
    return ctx.account.changed("readers", reader)


def delete(ctx: Ctx) -> Obj:
    reader = retrieve(ctx)  # DELETE takes no parameters either
    ctx.account.remove("readers", reader["id"])
    ctx.emulator.readers.pop(reader["id"], None)
    # Stripe's deleted reader keeps the device's type and serial number.
    return {
        **deleted(reader),
        "device_type": reader["device_type"],
        "serial_number": reader["serial_number"],
    }


def list_all(ctx: Ctx) -> Obj:
    params = ctx.params
    filters = ("device_type", "location", "serial_number", "status")
    p.allowed(params, (*LIST_PARAMS, *filters))
    p.choice(params, "device_type", DEVICE_TYPES)
    p.choice(params, "status", ("online", "offline"))
    keep = equal_to(params, filters)
    return list_page(ctx.account, "readers", params, "/v1/terminal/readers", KIND, keep)


ROUTES: list[Route] = [
    ("POST", "/v1/terminal/readers", create),
    ("GET", "/v1/terminal/readers", list_all),
    ("GET", "/v1/terminal/readers/{reader}", retrieve),
    ("POST", "/v1/terminal/readers/{reader}", update),
    ("DELETE", "/v1/terminal/readers/{reader}", delete),
]
