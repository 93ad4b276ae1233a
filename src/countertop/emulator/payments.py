"""What happens to PaymentIntents, charges and refunds when money moves."""

from __future__ import annotations

from countertop.emulator import cards, objects
from countertop.emulator.cards import Card, Decline
from countertop.emulator.context import Ctx
from countertop.emulator.errors import invalid, no_such
from countertop.emulator.ids import new_id
from countertop.emulator.store import Obj


def captures_manually(pi: Obj, method_type: str) -> bool:
    if method_type == "interac_present":
        return False  # Interac is always captured at once.
    if pi["capture_method"] == "manual":
        return True
    options = (pi.get("payment_method_options") or {}).get(method_type) or {}
    return options.get("capture_method") in ("manual", "manual_preferred")


def authorize(
    ctx: Ctx,
    pi: Obj,
    card: Card,
    method_type: str,
    reader: Obj | None = None,
    tip: int | None = None,
    pm: Obj | None = None,
) -> tuple[Decline | None, Obj]:
    """Authorize ``pi`` with ``card``: a charge, the intent's new status and the events.

    Returns the decline (None when approved) and the charge.
    """
    account = ctx.account
    if pm is None:
        pm = objects.payment_method(ctx, card, method_type)
    amount = pi["amount"] + (tip or 0)
    decline = cards.decline_for(card, amount, in_person=method_type != "card")
    manual = captures_manually(pi, method_type)
    charge = objects.charge(ctx, pi, pm, card, amount, decline, reader, captured=not manual)
    pi["latest_charge"] = charge["id"]
    if decline is not None:
        pi["status"] = "requires_payment_method"
        pi["payment_method"] = None
        pi["last_payment_error"] = objects.card_error(decline, charge["id"], pm)
        account.changed("payment_intents", pi)
        ctx.emit("charge.failed", charge)
        ctx.emit("payment_intent.payment_failed", pi)
        return decline, charge
    if tip:
        pi["amount"] = amount
        pi["amount_details"] = {"tip": {"amount": tip}}
    pi["payment_method"] = pm["id"]
    pi["last_payment_error"] = None
    if manual:
        pi["status"] = "requires_capture"
        pi["amount_capturable"] = amount
    else:
        pi["status"] = "succeeded"
        pi["amount_received"] = amount
    account.changed("payment_intents", pi)
    ctx.emit("charge.succeeded", charge)
    if manual:
        ctx.emit("payment_intent.amount_capturable_updated", pi)
    else:
        ctx.emit("payment_intent.succeeded", pi)
    return None, charge


def capture(ctx: Ctx, pi: Obj, amount: int | None) -> Obj:
    capturable = pi["amount_capturable"]
    if amount is None:
        amount = capturable
    if amount > capturable:
        raise invalid(
            f"The amount to capture ({amount}) must be less than or equal to the "
            f"PaymentIntent's amount_capturable ({capturable}).",
            "amount_to_capture",
            "amount_too_large",
        )
    charge = ctx.account.get("charges", pi["latest_charge"])
    assert charge is not None
    charge["captured"] = True
    charge["amount_captured"] = amount
    charge["amount_refunded"] = charge["amount"] - amount
    charge["balance_transaction"] = new_id("txn_")
    details = charge["payment_method_details"].get(charge["payment_method_details"]["type"])
    if isinstance(details, dict):
        details.pop("capture_before", None)
    ctx.account.changed("charges", charge)
    pi["status"] = "succeeded"
    pi["amount_capturable"] = 0
    pi["amount_received"] = amount
    ctx.account.changed("payment_intents", pi)
    ctx.emit("charge.captured", charge)
    ctx.emit("payment_intent.succeeded", pi)
    return pi


def release(ctx: Ctx, pi: Obj) -> None:
    """Release an uncaptured authorization when its PaymentIntent is canceled."""
    charge = ctx.account.get("charges", pi.get("latest_charge") or "")
    if charge is None or charge["status"] != "succeeded" or charge["captured"]:
        return
    charge["amount_refunded"] = charge["amount"]
    charge["refunded"] = True
    ctx.account.changed("charges", charge)
    ctx.emit("charge.refunded", charge)


def expire(ctx: Ctx, pi: Obj) -> Obj:
    """An uncaptured authorization passes its capture_before: Stripe refunds and cancels it."""
    if pi["status"] != "requires_capture":
        raise ValueError(f"{pi['id']} has no uncaptured authorization (status {pi['status']})")
    charge = ctx.account.get("charges", pi["latest_charge"])
    assert charge is not None
    ctx.emit("charge.expired", charge)
    refund(ctx, charge, charge["amount"] - charge["amount_refunded"], "expired_uncaptured_charge")
    pi["status"] = "canceled"
    pi["cancellation_reason"] = "automatic"
    pi["canceled_at"] = ctx.now()
    pi["amount_capturable"] = 0
    ctx.account.changed("payment_intents", pi)
    ctx.emit("payment_intent.canceled", pi)
    return pi


def charge_to_refund(ctx: Ctx, charge_id: str | None, intent_id: str | None) -> Obj:
    """The charge a refund names, directly or through its PaymentIntent's latest charge."""
    if charge_id and intent_id:
        raise invalid("You can only pass one of charge or payment_intent.", "payment_intent")
    if charge_id:
        charge = ctx.account.get("charges", charge_id)
        if charge is None:
            raise no_such("charge", charge_id, "charge")
        return charge
    if not intent_id:
        raise invalid(
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            None,
            "parameter_missing",
        )
    pi = ctx.account.get("payment_intents", intent_id)
    if pi is None:
        raise no_such("payment_intent", intent_id, "payment_intent")
    latest = ctx.account.get("charges", pi.get("latest_charge") or "")
    if latest is None or latest["status"] != "succeeded":
        raise invalid(
            f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
            "payment_intent",
            "charge_not_refundable",
        )
    return latest


def refundable(ctx: Ctx, charge: Obj, amount: int | None) -> int:
    """Check a refund of ``amount`` (None: all that remains) and return the amount."""
    if not charge["captured"]:
        raise invalid(
            f"Charge {charge['id']} has not been captured. Cancel its PaymentIntent to release "
            "the authorization instead.",
            "charge",
            "charge_not_refundable",
        )
    remaining = charge["amount_captured"] - _refunded(charge)
    if remaining <= 0:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.", None, "charge_already_refunded"
        )
    if amount is None:
        return remaining
    if amount > remaining:
        raise invalid(
            f"Refund amount ({_money(amount, charge)}) is greater than unrefunded amount on "
            f"charge ({_money(remaining, charge)})",
            "amount",
            "amount_too_large",
        )
    return amount


def _refunded(charge: Obj) -> int:
    uncaptured = charge["amount"] - charge["amount_captured"]
    return int(charge["amount_refunded"]) - uncaptured


def _money(amount: int, charge: Obj) -> str:
    symbol = "$" if charge["currency"] in ("usd", "cad", "aud") else ""
    return f"{symbol}{amount / 100:.2f}"


def refund(
    ctx: Ctx,
    charge: Obj,
    amount: int,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Obj:
    """Create a succeeded refund of ``amount`` on ``charge`` and update the charge."""
    obj: Obj = {
        "id": new_id("re_"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_"),
        "charge": charge["id"],
        "created": ctx.now(),
        "currency": charge["currency"],
        "customer": charge["customer"],
        "customer_account": None,
        "destination_details": {"card": {"type": "reversal"}, "type": "card"},
        "metadata": metadata or {},
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    ctx.account.add("refunds", obj)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"]["data"].insert(0, obj)
    charge["refunds"]["total_count"] = len(charge["refunds"]["data"])
    ctx.account.changed("charges", charge)
    ctx.emit("refund.created", obj)
    ctx.emit("charge.refunded", charge)
    details = charge["payment_method_details"].get(charge["payment_method_details"]["type"])
    if details and details.get("fingerprint") == objects.fingerprint(cards.REFUND_FAILS):
        ctx.emulator.call_later(0.2, ctx.emulator.locked(_fail_refund), ctx, obj["id"])
    return obj


def _fail_refund(ctx: Ctx, refund_id: str) -> None:
    obj = ctx.account.get("refunds", refund_id)
    if obj is None or obj["status"] != "succeeded":
        return
    obj["status"] = "failed"
    obj["failure_reason"] = "expired_or_canceled_card"
    obj["failure_balance_transaction"] = new_id("txn_")
    ctx.account.changed("refunds", obj)
    charge = ctx.account.get("charges", obj["charge"])
    if charge is not None:
        charge["amount_refunded"] -= obj["amount"]
        charge["refunded"] = False
        ctx.account.changed("charges", charge)
    later = Ctx(ctx.emulator, ctx.account, api_version=ctx.api_version)
    later.emit("refund.failed", obj)
    later.emit("charge.refund.updated", obj)
