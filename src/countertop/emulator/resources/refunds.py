"""``/v1/refunds``: online refunds of captured charges (Interac only through the reader)."""

from __future__ import annotations

from countertop.emulator import params as p
from countertop.emulator import payments
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.listing import LIST_PARAMS, equal_to, list_page
from countertop.emulator.resources.common import load
from countertop.emulator.routing import Route
from countertop.emulator.store import Obj

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def create(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(
        params,
        (
            "charge",
            "payment_intent",
            "amount",
            "reason",
            "metadata",
            "refund_application_fee",
            "reverse_transfer",
            "instructions_email",
        ),
    )
    charge = payments.charge_to_refund(
        ctx, p.text(params, "charge"), p.text(params, "payment_intent")
    )
    if charge["payment_method_details"]["type"] == "interac_present":
        raise invalid(
            "Interac charges can only be refunded in person: use the reader's refund_payment "
            "action and present the card.",
            "charge",
            "charge_not_refundable",
        )
    amount = payments.refundable(ctx, charge, p.integer(params, "amount", minimum=1))
    reason = p.choice(params, "reason", REASONS)
    meta = p.metadata(None, params.get("metadata"))
    return payments.refund(ctx, charge, amount, reason, meta)


def retrieve(ctx: Ctx) -> Obj:
    p.allowed(ctx.params, ())
    return load(ctx, "refunds", "refund", ctx.args[0], "refund")


def update(ctx: Ctx) -> Obj:
    refund = load(ctx, "refunds", "refund", ctx.args[0], "refund")
    p.allowed(ctx.params, ("metadata",))
    previous = {"metadata": refund["metadata"]}
    refund["metadata"] = p.metadata(refund["metadata"], ctx.params.get("metadata"))
    ctx.emit("refund.updated", refund, previous)
    return ctx.account.changed("refunds", refund)


def list_all(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, (*LIST_PARAMS, "charge", "payment_intent", "created"))
    keep = equal_to(params, ("charge", "payment_intent"))
    return list_page(ctx.account, "refunds", params, "/v1/refunds", "refund", keep)


ROUTES: list[Route] = [
    ("POST", "/v1/refunds", create),
    ("GET", "/v1/refunds", list_all),
    ("GET", "/v1/refunds/{refund}", retrieve),
    ("POST", "/v1/refunds/{refund}", update),
]
