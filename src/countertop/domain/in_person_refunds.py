"""Interac payments: taken with `interac_present`, refunded only in person on a reader (pure).

Stripe takes Interac debit in Canada, in CAD, as the `interac_present` payment method; the network
is single-message, so the payment is captured when the customer authorizes it whatever capture
method the card payments use. Its refund cannot go through `/v1/refunds`: the reader's
`refund_payment` action waits for the customer to tap the same card, and Stripe then creates the
refund (its metadata is the action's metadata, which names our refund row).

The inputs here are Stripe's JSON as plain mappings; nothing does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Obj = Mapping[str, Any]
INTERAC = "interac_present"
CARD_PRESENT = "card_present"
# The metadata key, on the reader action and on the refund Stripe creates, naming our refund row.
REFUND_KEY = "countertop_refund"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


def accepts_interac(currency: str) -> bool:
    """Interac is offered for payments in Canadian dollars only."""
    return currency.lower() == "cad"


def payment_method_types(currency: str) -> list[str]:
    """What a reader may take for a payment in `currency`."""
    return [CARD_PRESENT, INTERAC] if accepts_interac(currency) else [CARD_PRESENT]


def capture_options(currency: str, capture_method: str) -> tuple[str, dict[str, Any] | None]:
    """The PaymentIntent's `capture_method` and `payment_method_options` for our capture setting.

    Since API version 2025-03-31.basil a PaymentIntent that may take Interac cannot have a manual
    capture_method; manual capture of cards is then asked for on `card_present` alone, and Interac
    is captured when the customer authorizes.
    """
    if capture_method == "manual" and accepts_interac(currency):
        return "automatic", {CARD_PRESENT: {"capture_method": "manual"}}
    return capture_method, None


def payment_method_type(charge: Obj | None) -> str | None:
    if not isinstance(charge, Mapping):
        return None
    details = charge.get("payment_method_details")
    kind = details.get("type") if isinstance(details, Mapping) else None
    return kind if isinstance(kind, str) else None


def refunded_in_person(charge: Obj | None) -> bool:
    """True when the charge can only be refunded with the card on a reader (Interac)."""
    return payment_method_type(charge) == INTERAC


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def refundable(charge: Obj, pending: int = 0) -> int:
    """What may still be refunded: captured less refunded, less refunds still waiting for a card."""
    left = _int(charge.get("amount_captured")) - _int(charge.get("amount_refunded")) - pending
    return max(0, left)


@dataclass(frozen=True)
class RefundOutcome:
    """What Stripe says became of one of our in-person refunds."""

    refund_row: str
    status: RefundStatus
    refund: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


def _ours(metadata: Any) -> str | None:
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get(REFUND_KEY)
    return value if isinstance(value, str) and value else None


def from_reader(reader: Obj) -> RefundOutcome | None:
    """The outcome a reader shows for our refund action; None while it waits or if not ours."""
    action = reader.get("action")
    if not isinstance(action, Mapping) or action.get("type") != "refund_payment":
        return None
    details = action.get("refund_payment") or {}
    row = _ours(details.get("metadata")) if isinstance(details, Mapping) else None
    if row is None:
        return None
    if action.get("status") == "succeeded":
        refund = details.get("refund")
        refund_id = refund.get("id") if isinstance(refund, Mapping) else refund
        return RefundOutcome(row, RefundStatus.SUCCEEDED, refund=refund_id)
    if action.get("status") == "failed":
        return RefundOutcome(
            row,
            RefundStatus.FAILED,
            failure_code=str(action.get("failure_code") or "reader_action_failed"),
            failure_message=str(action.get("failure_message") or "The refund did not go through."),
        )
    return None


def from_refund(refund: Obj) -> RefundOutcome | None:
    """The outcome a Refund object carries for one of ours (pending refunds say nothing yet)."""
    row = _ours(refund.get("metadata"))
    if row is None:
        return None
    status = refund.get("status")
    if status == "succeeded":
        return RefundOutcome(row, RefundStatus.SUCCEEDED, refund=refund.get("id"))
    if status in ("failed", "canceled"):
        reason = refund.get("failure_reason")
        return RefundOutcome(
            row,
            RefundStatus.FAILED,
            refund=refund.get("id"),
            failure_code=str(reason or f"refund_{status}"),
            failure_message=f"Stripe reports the refund {status}.",
        )
    return None


def from_event(event_type: str, obj: Obj) -> RefundOutcome | None:
    """The outcome a webhook event carries for one of our in-person refunds, if any."""
    if event_type.startswith("terminal.reader.action_"):
        return from_reader(obj)
    if event_type.startswith("refund."):
        return from_refund(obj)
    return None


def settle(current: RefundStatus, outcome: RefundStatus) -> RefundStatus:
    """Only a pending refund changes, and a refund Stripe made can no longer be canceled by us.

    Events come late, twice and in any order: a refund already succeeded, failed or canceled keeps
    its status, except that a refund we gave up on (canceled, failed) which Stripe reports
    succeeded after all is succeeded: the money went back to the customer.
    """
    if current is RefundStatus.PENDING:
        return outcome
    if outcome is RefundStatus.SUCCEEDED:
        return RefundStatus.SUCCEEDED
    return current
