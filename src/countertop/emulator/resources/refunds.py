"""``/v1/refunds``: online refunds of captured charges (Interac only through the reader)."""

from __future__ import annotations

from countertop.emulator import params as p
from countertop.emulator import payments
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid
from countertop.emulator.listing import LIST_PARAMS, list_page
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
    charge_id = p.text(params, "charge")
    intent_id = p.text(params, "payment_intent")
    if charge_id and intent_id:
        raise invalid("You can only pass one of charge or payment_intent.", "payment_intent")
    if charge_id:
        charge = load(ctx, "charges", "charge", charge_id, "charge")
    elif intent_id:
        pi = load(ctx, "payment_intents", "payment_intent", intent_id, "payment_intent")
        latest = ctx.account.get("charges", pi.get("latest_charge") or "")
        if latest is None or latest["status"] != "succeeded":
            raise invalid(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                "payment_intent",
                "charge_not_refundable",
            )
        charge = latest
    else:
        raise invalid(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            None,
            "parameter_missing",
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
    refund["metadata"] = p.metadata(refund["metadata"], ctx.params.get("metadata"))
    return ctx.account.changed("refunds", refund)


def list_all(ctx: Ctx) -> Obj:
    params = ctx.params
    p.allowed(params, (*LIST_PARAMS, "charge", "payment_intent", "created"))
    charge = p.text(params, "charge")
    intent = p.text(params, "payment_intent")
    keep = None
    if charge or intent:

        def keep(refund: Obj) -> bool:
            return (not charge or refund["charge"] == charge) and (
                not intent or refund["payment_intent"] == intent
            )

    return list_page(ctx.account, "refunds", params, "/v1/refunds", "refund", keep)


ROUTES: list[Route] = [
    ("POST", "/v1/refunds", create),
    ("GET", "/v1/refunds", list_all),
    ("GET", "/v1/refunds/{refund}", retrieve),
    ("POST", "/v1/refunds/{refund}", update),
]
