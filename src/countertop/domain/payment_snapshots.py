"""Plain snapshots of Stripe's PaymentIntents and charges, and of our orders, for reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Stripe's floor for a card_present authorization; `capture_before` on the charge is the real one.
CARD_PRESENT_AUTH_SECONDS = 2 * 24 * 3600


@dataclass(frozen=True)
class ChargeSnapshot:
    id: str
    status: str
    captured: bool
    amount: int
    amount_captured: int
    amount_refunded: int
    created: int
    capture_before: int | None = None
    failure_code: str | None = None

    @property
    def deadline(self) -> int:
        """When an uncaptured authorization lapses: `capture_before`, else the 2-day floor."""
        return self.capture_before or self.created + CARD_PRESENT_AUTH_SECONDS

    @classmethod
    def from_stripe(cls, charge: Mapping[str, Any]) -> ChargeSnapshot:
        details = charge.get("payment_method_details") or {}
        present = details.get("card_present") or details.get("interac_present") or {}
        return cls(
            id=str(charge["id"]),
            status=str(charge.get("status") or ""),
            captured=bool(charge.get("captured")),
            amount=int(charge.get("amount") or 0),
            amount_captured=int(charge.get("amount_captured") or 0),
            amount_refunded=int(charge.get("amount_refunded") or 0),
            created=int(charge.get("created") or 0),
            capture_before=present.get("capture_before"),
            failure_code=charge.get("failure_code"),
        )


@dataclass(frozen=True)
class IntentSnapshot:
    """A PaymentIntent as reconciliation needs it (`latest_charge` expanded into `charge`)."""

    id: str
    status: str
    amount: int
    currency: str
    created: int
    amount_capturable: int = 0
    amount_received: int = 0
    tip: int = 0
    order_id: str | None = None
    cancellation_reason: str | None = None
    charge: ChargeSnapshot | None = None

    @classmethod
    def from_stripe(cls, intent: Mapping[str, Any]) -> IntentSnapshot:
        latest = intent.get("latest_charge")
        details = intent.get("amount_details") or {}
        tip = details.get("tip") or {}
        metadata = intent.get("metadata") or {}
        return cls(
            id=str(intent["id"]),
            status=str(intent["status"]),
            amount=int(intent.get("amount") or 0),
            currency=str(intent.get("currency") or ""),
            created=int(intent.get("created") or 0),
            amount_capturable=int(intent.get("amount_capturable") or 0),
            amount_received=int(intent.get("amount_received") or 0),
            tip=int(tip.get("amount") or 0),
            order_id=metadata.get("order_id") or None,
            cancellation_reason=intent.get("cancellation_reason"),
            charge=ChargeSnapshot.from_stripe(latest) if isinstance(latest, Mapping) else None,
        )


@dataclass(frozen=True)
class OrderSnapshot:
    """An order as our books have it: amounts in minor units, the PaymentIntents of its attempts."""

    id: str
    status: str
    currency: str
    total: int
    tip: int
    amount_captured: int
    amount_refunded: int
    payment_intents: tuple[str, ...] = ()
    capture_error: str | None = None
