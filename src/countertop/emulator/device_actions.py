"""How each kind of reader action ends once a card is presented."""

from __future__ import annotations

from collections.abc import Callable

from countertop.emulator import cards, objects, payments
from countertop.emulator.context import Ctx
from countertop.emulator.device import Presented, fail, invalid_intent, pay, succeed
from countertop.emulator.faults import ReaderSwitches
from countertop.emulator.store import Obj

Completion = Callable[[Ctx, Obj, Obj, Presented, ReaderSwitches], None]


def _intent(ctx: Ctx, action: Obj) -> Obj | None:
    details = action[action["type"]]
    return ctx.account.get("payment_intents", details["payment_intent"])


def _tip(config: Obj | None, tip: int | None) -> int | None:
    if not tip or (config or {}).get("skip_tipping"):
        return None
    return tip


def process_payment_intent(
    ctx: Ctx, reader: Obj, action: Obj, card: Presented, _: ReaderSwitches
) -> None:
    pi = _intent(ctx, action)
    if pi is None:
        return
    config = action["process_payment_intent"].get("process_config")
    pay(ctx, reader, action, pi, card.with_tip(_tip(config, card.tip)))


def collect_payment_method(
    ctx: Ctx, reader: Obj, action: Obj, card: Presented, switches: ReaderSwitches
) -> None:
    pi = _intent(ctx, action)
    if pi is None or pi["status"] != "requires_payment_method":
        error = invalid_intent()
        fail(ctx, reader, action, "intent_invalid_state", error.message, error.to_object())
        return
    pm = objects.payment_method(ctx, card.card, card.method_type)
    pi["payment_method"] = pm["id"]
    pi["status"] = "requires_confirmation"
    ctx.account.changed("payment_intents", pi)
    action["collect_payment_method"]["payment_method"] = pm
    config = action["collect_payment_method"].get("collect_config")
    switches.phase = "collected"
    switches.collected = card.with_tip(_tip(config, card.tip))
    ctx.emit("terminal.reader.action_updated", reader)


def refund_payment(ctx: Ctx, reader: Obj, action: Obj, card: Presented, _: ReaderSwitches) -> None:
    details = action["refund_payment"]
    charge_id = details.get("charge")
    if charge_id is None:
        pi = ctx.account.get("payment_intents", details["payment_intent"])
        charge_id = pi.get("latest_charge") if pi else None
    charge = ctx.account.get("charges", charge_id or "")
    if charge is None:
        return
    amount = details["amount"]
    partial = amount < charge["amount_captured"]
    if partial and amount % 100 in cards.PARTIAL_REFUND_DECLINES:
        message = "The refund was declined by the card issuer."
        error = {"type": "card_error", "code": "card_declined", "message": message}
        fail(ctx, reader, action, "card_declined", message, error)
        return
    meta = details.get("metadata") or {}
    refund = payments.refund(ctx, charge, amount, details.get("reason"), dict(meta))
    details["refund"] = refund["id"]
    succeed(ctx, reader, action)


def process_setup_intent(
    ctx: Ctx, reader: Obj, action: Obj, card: Presented, _: ReaderSwitches
) -> None:
    from countertop.emulator.resources.setup_intents import complete_on_reader

    complete_on_reader(ctx, reader, action, card.card, card.method_type)


COMPLETIONS: dict[str, Completion] = {
    "process_payment_intent": process_payment_intent,
    "collect_payment_method": collect_payment_method,
    "refund_payment": refund_payment,
    "process_setup_intent": process_setup_intent,
}
