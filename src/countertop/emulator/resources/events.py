"""``/v1/events``: list (type, types and created filters) and retrieve."""

from __future__ import annotations

from fnmatch import fnmatchcase

from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.listing import LIST_PARAMS, list_page
from countertop.emulator.resources.common import load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj


def list_all(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, (*LIST_PARAMS, "type", "types", "created", "delivery_success"))
    wanted = p.text(params, "type")
    types = p.strings(params, "types")
    if wanted and types:
        raise invalid("You may only specify one of these parameters: type, types.", "type")
    keep = None
    if wanted or types:

        def keep(event: Obj) -> bool:
            if wanted and not fnmatchcase(event["type"], wanted):
                return False
            return not types or event["type"] in types

    return list_page(ctx.account, "events", params, "/v1/events", "event", keep)


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return load(ctx, "events", "event", ctx.args[0], "id")


ROUTES: list[Route] = [
    ("GET", "/v1/events", list_all),
    ("GET", "/v1/events/{id}", retrieve),
]
