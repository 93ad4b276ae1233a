"""``/v1/test_helpers/terminal/readers/{reader}/...``: what the cardholder does on the reader."""

from __future__ import annotations

from countertop.emulator import device
from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.resources.collect_inputs import succeed_inputs, timeout_inputs
from countertop.emulator.resources.readers import find
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj


def present_payment_method(ctx: Ctx) -> Obj:
    reader = find(ctx)
    params = ctx.params
    p.allowed(params, ("type", "card_present", "interac_present", "card", "amount_tip"))
    chosen = p.choice(params, "type", ("card_present", "interac_present", "card"))
    if chosen is None:  # a card_present[number] or interac_present[number] alone names the type
        chosen = next(
            (kind for kind in ("card_present", "interac_present") if kind in params), None
        )
    number = None
    details = p.mapping(params, chosen) if chosen else None
    if details is not None and chosen is not None:
        number = p.text(details, "number", parent=chosen)
    tip = p.integer(params, "amount_tip", minimum=0)
    method_type = "card_present" if chosen == "card" else chosen
    if method_type is not None:
        device.card_for(method_type, number)
    if ctx.emulator.switches(reader["id"]).offline or reader["status"] == "offline":
        raise device.offline()
    return device.present(ctx, reader, method_type, number, tip)


def succeed_input_collection(ctx: Ctx) -> Obj:
    reader = find(ctx)
    p.allowed(ctx.params, ("skip_non_required_inputs",))
    skip = p.choice(ctx.params, "skip_non_required_inputs", ("all", "none")) or "none"
    return succeed_inputs(ctx, reader, skip == "all")


def timeout_input_collection(ctx: Ctx) -> Obj:
    reader = find(ctx)
    p.allowed(ctx.params, ())
    return timeout_inputs(ctx, reader)


_BASE = "/v1/test_helpers/terminal/readers/{reader}/"
ROUTES: list[Route] = [
    ("POST", _BASE + "present_payment_method", present_payment_method),
    ("POST", _BASE + "succeed_input_collection", succeed_input_collection),
    ("POST", _BASE + "timeout_input_collection", timeout_input_collection),
]
