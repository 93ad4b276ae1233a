"""Card-not-present confirmation: PaymentIntents paid with Stripe's test PaymentMethods."""

from __future__ import annotations

import orjson

from countertop.emulator import cards, objects, payments
from countertop.emulator import params as p
from countertop.emulator.context import Ctx
from countertop.emulator.errors import StripeError, invalid, unexpected_state
from countertop.emulator.resources.common import load
from countertop.emulator.store import Obj


def _card_for(ctx: Ctx, method: str) -> tuple[cards.Card, Obj | None]:
    number = cards.TEST_PAYMENT_METHODS.get(method)
    if number is not None:
        card = cards.lookup(number)
        assert card is not None
        return card, None
    pm = load(ctx, "payment_methods", "payment_method", method, "payment_method")
    if pm["type"] != "card":
        raise invalid(
            f"A PaymentMethod of type {pm['type']} cannot be confirmed from the API; "
            "present it on a reader instead.",
            "payment_method",
            "payment_intent_incompatible_payment_method",
        )
    for candidate in cards.TEST_PAYMENT_METHODS.values():
        card = cards.lookup(candidate)
        if card is not None and objects.fingerprint(card.number) == pm["card"]["fingerprint"]:
            return card, pm
    raise invalid("This PaymentMethod cannot be used.", "payment_method")


def confirm(ctx: Ctx, pi: Obj, params: p.Params) -> Obj:
    """Confirm ``pi`` with a test PaymentMethod (``pm_card_visa``, ...) or a saved card one."""
    if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise unexpected_state(
            f"This PaymentIntent's status is {pi['status']}, but it must be requires_payment_method "
            "or requires_confirmation to be confirmed."
        )
    method = p.text(params, "payment_method") or pi.get("payment_method")
    if not method:
        raise invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            "payment_method",
            "payment_intent_unexpected_state",
        )
    card, pm = _card_for(ctx, method)
    if "card" not in pi["payment_method_types"]:
        raise invalid(
            "The PaymentMethod provided (card) is not allowed for this PaymentIntent. Please "
            f"attach a PaymentMethod of one of the following types: {', '.join(pi['payment_method_types'])}.",
            "payment_method",
            "payment_intent_incompatible_payment_method",
        )
    decline, charge = payments.authorize(ctx, pi, card, "card", pm=pm)
    if decline is not None:
        extra = dict(pi["last_payment_error"])
        for key in ("type", "code", "decline_code", "doc_url", "message"):
            extra.pop(key, None)
        extra["payment_intent"] = orjson.loads(orjson.dumps(pi))
        raise StripeError(
            402,
            "card_error",
            decline.message,
            code=decline.code,
            decline_code=decline.decline_code,
            extra=extra,
        )
    del charge
    return pi
