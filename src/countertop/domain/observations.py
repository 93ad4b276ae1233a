"""What a Stripe object says about an attempt, as state-machine observations (pure, no I/O).

The inputs are Stripe's JSON (PaymentIntent, Charge, Reader) as plain mappings. A PaymentIntent's
status is the truth about money; a reader's action is the truth about what the reader is doing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from countertop.domain.attempts import (
    Authorized,
    Canceled,
    Captured,
    Card,
    Declined,
    Failed,
    Observation,
    PaymentError,
    Refunded,
)

Obj = Mapping[str, Any]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def tip_of(payment_intent: Obj, base_amount: int) -> int:
    """The tip entered on the reader: `amount_details.tip.amount`, else what the amount grew by."""
    details = payment_intent.get("amount_details") or {}
    tip = (details.get("tip") or {}).get("amount") if isinstance(details, Mapping) else None
    if isinstance(tip, int) and tip >= 0:
        return tip
    return max(0, _int(payment_intent.get("amount")) - base_amount)


def card_of(charge: Obj | None) -> Card | None:
    if not isinstance(charge, Mapping):
        return None
    details = charge.get("payment_method_details") or {}
    card = details.get("card_present") or details.get("interac_present") or details.get("card")
    if not isinstance(card, Mapping):
        return None
    return Card(brand=card.get("brand"), last4=card.get("last4"))


def error_of(error: Obj | None, fallback_code: str = "card_declined") -> PaymentError:
    error = error or {}
    return PaymentError(
        code=str(error.get("code") or fallback_code),
        message=str(error.get("message") or "The payment did not go through."),
        decline_code=error.get("decline_code"),
    )


def from_payment_intent(payment_intent: Obj, base_amount: int) -> list[Observation]:
    """Settled facts of a PaymentIntent: authorized, captured (and refunded), or canceled."""
    status = payment_intent.get("status")
    charge = payment_intent.get("latest_charge")
    charge = charge if isinstance(charge, Mapping) else None
    card = card_of(charge)
    tip = tip_of(payment_intent, base_amount)
    if status == "requires_capture":
        amount = _int(payment_intent.get("amount_capturable")) or _int(payment_intent.get("amount"))
        return [Authorized(amount=amount, tip=tip, card=card)]
    if status == "succeeded":
        observed: list[Observation] = [
            Captured(
                amount_captured=_int(payment_intent.get("amount_received")), tip=tip, card=card
            )
        ]
        if charge is not None and _int(charge.get("amount_refunded")) > 0:
            observed.append(Refunded(_int(charge.get("amount_refunded"))))
        return observed
    if status == "canceled":
        return [Canceled()]
    return []


def from_charge(charge: Obj, base_amount: int) -> list[Observation]:
    """Settled facts of a Charge (it carries no tip field: the tip is what the amount grew by)."""
    if charge.get("status") != "succeeded":
        return []
    card = card_of(charge)
    tip = max(0, _int(charge.get("amount")) - base_amount)
    if not charge.get("captured"):
        return [Authorized(amount=_int(charge.get("amount")), tip=tip, card=card)]
    observed: list[Observation] = [
        Captured(amount_captured=_int(charge.get("amount_captured")), tip=tip, card=card)
    ]
    if _int(charge.get("amount_refunded")) > 0:
        observed.append(Refunded(_int(charge.get("amount_refunded"))))
    return observed


def reader_action_for(reader: Obj, payment_intent: str) -> Obj | None:
    """The reader's current action if it is processing this PaymentIntent."""
    action = reader.get("action")
    if not isinstance(action, Mapping) or action.get("type") != "process_payment_intent":
        return None
    process = action.get("process_payment_intent") or {}
    target = process.get("payment_intent")
    if isinstance(target, Mapping):
        target = target.get("id")
    return action if target == payment_intent else None


def from_failed_action(action: Obj, payment_intent: Obj | None) -> Observation:
    """A failed reader action: a decline when the card was refused, a failure otherwise."""
    code = str(action.get("failure_code") or "reader_action_failed")
    api_error = action.get("api_error")
    last_error = (payment_intent or {}).get("last_payment_error")
    detail = api_error if isinstance(api_error, Mapping) else last_error
    if code == "card_declined" or (isinstance(detail, Mapping) and detail.get("decline_code")):
        base = error_of(detail if isinstance(detail, Mapping) else None)
        message = base.message if detail else str(action.get("failure_message") or base.message)
        return Declined(PaymentError(base.code, message, base.decline_code))
    return Failed(
        PaymentError(
            code=code, message=str(action.get("failure_message") or code), decline_code=None
        )
    )
