"""``/v1/events``: list (type, types, created filters) and retrieve."""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.listing import LIST_PARAMS, list_page
from countertop.emulator.resources.common import load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

_BOUNDS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def created_filter(value: Any) -> Callable[[Obj], bool]:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>`` as a predicate."""
    if value is None or value == "":
        return lambda obj: True
    if isinstance(value, str):
        exact = p.integer({"created": value}, "created")
        return lambda obj: obj["created"] == exact
    if not isinstance(value, dict):
        raise invalid("Invalid created filter", "created")
    checks: list[tuple[Callable[[int, int], bool], int]] = []
    for op in value:
        if op not in _BOUNDS:
            raise invalid(f"Received unknown parameter: created[{op}]", f"created[{op}]")
        number = p.integer(value, op, parent="created")
        assert number is not None
        checks.append((_BOUNDS[op], number))
    return lambda obj: all(check(obj["created"], bound) for check, bound in checks)


def list_all(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, (*LIST_PARAMS, "type", "types", "created", "delivery_success"))
    wanted = p.text(params, "type")
    types = p.strings(params, "types")
    created = params.get("created")
    if wanted and types:
        raise invalid("You may only specify one of these parameters: type, types.", "type")
    keep = None
    if wanted or types or created:
        matches_created = created_filter(created)

        def keep(event: Obj) -> bool:
            if wanted and not fnmatchcase(event["type"], wanted):
                return False
            if types and event["type"] not in types:
                return False
            return matches_created(event)

    return list_page(ctx.account, "events", params, "/v1/events", "event", keep)


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return load(ctx, "events", "event", ctx.args[0], "id")


ROUTES: list[Route] = [
    ("GET", "/v1/events", list_all),
    ("GET", "/v1/events/{id}", retrieve),
]
