"""``/v1/charges`` (retrieve, list) and ``/v1/payment_methods/{id}``."""

from __future__ import annotations

from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.listing import LIST_PARAMS, equal_to, list_page
from countertop.emulator.resources.common import load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return load(ctx, "charges", "charge", ctx.args[0], "charge")


def list_all(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, (*LIST_PARAMS, "payment_intent", "customer", "created"))
    keep = equal_to(params, ("payment_intent", "customer"))
    return list_page(ctx.account, "charges", params, "/v1/charges", "charge", keep)


def retrieve_payment_method(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return load(ctx, "payment_methods", "PaymentMethod", ctx.args[0], "payment_method")


ROUTES: list[Route] = [
    ("GET", "/v1/charges", list_all),
    ("GET", "/v1/charges/{charge}", retrieve),
    ("GET", "/v1/payment_methods/{payment_method}", retrieve_payment_method),
]
