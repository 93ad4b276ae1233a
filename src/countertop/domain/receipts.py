"""Receipts: what a customer is handed after a sale or a refund, built from the Stripe charge.

Card networks require EMV receipts to show the application name, the AID, the cardholder
verification method and the authorization code; several also require the ARC, TVR and TSI. Stripe
puts all of them in `payment_method_details.card_present.receipt` (or `interac_present.receipt`).
Everything here is pure: the charge and refunds come in as the plain dicts the API returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from countertop.domain.money import ZERO_DECIMAL
from countertop.domain.orders import LineItem

ReceiptKind = Literal["sale", "refund"]

# Stripe's three-decimal currencies (zero-decimal ones are in `money`); the rest have two.
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
SYMBOLS = {"usd": "$", "cad": "$", "aud": "$", "nzd": "$", "sgd": "$", "eur": "€", "gbp": "£"}

READ_METHODS = {
    "contact_emv": "Chip",
    "contactless_emv": "Contactless",
    "contactless_magstripe_mode": "Contactless (magstripe)",
    "magnetic_stripe_fallback": "Swipe (chip fallback)",
    "magnetic_stripe_track2": "Swipe",
}

VERIFICATION_METHODS = {
    "offline_pin": "PIN verified",
    "online_pin": "PIN verified",
    "offline_pin_and_signature": "PIN and signature",
    "signature": "Signature",
    "none": "No verification",
    "approval": "Approved",
    "failure": "Verification failed",
}

ACCOUNT_TYPES = {
    "checking": "Checking",
    "savings": "Savings",
    "credit": "Credit",
    "prepaid": "Prepaid",
    "unknown": "Unknown",
}


def minor_unit_digits(currency: str) -> int:
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """`1250, "usd"` → `$12.50`; `-300, "eur"` → `-€3.00`; `500, "jpy"` → `JPY 500`."""
    digits = minor_unit_digits(currency)
    sign = "-" if amount < 0 else ""
    units, minor = divmod(abs(amount), 10**digits)
    number = f"{units:,}" + (f".{minor:0{digits}d}" if digits else "")
    symbol = SYMBOLS.get(currency.lower())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency.upper()} {number}"


@dataclass(frozen=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Address:
        data = data or {}
        return cls(**{name: str(data.get(name) or "") for name in cls.__dataclass_fields__})

    def lines(self) -> list[str]:
        place = " ".join(p for p in (self.city + ("," if self.state else ""), self.state) if p)
        place = " ".join(p for p in (place, self.postal_code) if p)
        return [line for line in (self.line1, self.line2, place, self.country) if line]


@dataclass(frozen=True)
class Merchant:
    """Who sold: the business name and the location (store) where the reader stands."""

    name: str
    location_name: str = ""
    address: Address = field(default_factory=Address)
    phone: str = ""


@dataclass(frozen=True)
class OrderFacts:
    """The order as our books have it: the cart and its totals, in minor units."""

    id: str
    currency: str
    line_items: tuple[LineItem, ...]
    subtotal: int
    tax: int
    tip: int
    total: int


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str
    read_method: str | None
    funding: str | None = None
    cardholder_name: str | None = None
    payment_method_type: str = "card_present"

    @property
    def entry_mode(self) -> str:
        return READ_METHODS.get(self.read_method or "", self.read_method or "Unknown")


@dataclass(frozen=True)
class Emv:
    """The EMV receipt fields, named as networks print them; None where the card gave none."""

    application_name: str | None
    aid: str | None
    arc: str | None
    tvr: str | None
    tsi: str | None
    account_type: str | None
    cardholder_verification_method: str | None
    authorization_code: str | None

    @property
    def verification(self) -> str | None:
        method = self.cardholder_verification_method
        return VERIFICATION_METHODS.get(method, method) if method else None

    @property
    def needs_signature(self) -> bool:
        return (self.cardholder_verification_method or "") in {
            "signature",
            "offline_pin_and_signature",
        }

    def labelled(self) -> list[tuple[str, str]]:
        """The fields to print, in the order receipts usually show them."""
        account = ACCOUNT_TYPES.get(self.account_type or "", self.account_type)
        rows = [
            ("Application", self.application_name),
            ("AID", self.aid),
            ("Account", account),
            ("Verification", self.verification),
            ("Auth code", self.authorization_code),
            ("ARC", self.arc),
            ("TVR", self.tvr),
            ("TSI", self.tsi),
        ]
        return [(label, value) for label, value in rows if value]


@dataclass(frozen=True)
class RefundLine:
    id: str
    amount: int
    reason: str | None
    status: str
    created: int

    @classmethod
    def from_stripe(cls, refund: Mapping[str, Any]) -> RefundLine:
        return cls(
            id=str(refund["id"]),
            amount=int(refund["amount"]),
            reason=refund.get("reason"),
            status=str(refund.get("status") or "succeeded"),
            created=int(refund.get("created") or 0),
        )


@dataclass(frozen=True)
class Receipt:
    kind: ReceiptKind
    merchant: Merchant
    order: OrderFacts
    charge_id: str
    payment_intent_id: str | None
    created: int
    captured: bool
    card: Card | None
    emv: Emv | None
    amount: int
    """For a sale, the amount charged (authorized if not yet captured); for a refund, the refund."""
    refunds: tuple[RefundLine, ...] = ()
    refund: RefundLine | None = None

    @property
    def currency(self) -> str:
        return self.order.currency

    @property
    def amount_refunded(self) -> int:
        return sum(r.amount for r in self.refunds if r.status in {"succeeded", "pending"})

    @property
    def title(self) -> str:
        if self.kind == "refund":
            return "REFUND"
        return "SALE" if self.captured else "SALE (AUTHORIZED)"

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)

    def money(self, amount: int) -> str:
        return format_amount(amount, self.currency)


def _present_details(charge: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    details = charge.get("payment_method_details") or {}
    kind = details.get("type")
    for name in (kind, "card_present", "interac_present"):
        if name and isinstance(details.get(name), Mapping):
            return str(name), details[name]
    return None


def card_from_charge(charge: Mapping[str, Any]) -> Card | None:
    found = _present_details(charge)
    if found is None:
        return None
    kind, present = found
    return Card(
        brand=str(present.get("brand") or "card"),
        last4=str(present.get("last4") or ""),
        read_method=present.get("read_method"),
        funding=present.get("funding"),
        cardholder_name=present.get("cardholder_name"),
        payment_method_type=kind,
    )


def emv_from_charge(charge: Mapping[str, Any]) -> Emv | None:
    """The EMV fields of a chip or contactless read; None for a swipe (Stripe sends no receipt)."""
    found = _present_details(charge)
    receipt = found[1].get("receipt") if found else None
    if not isinstance(receipt, Mapping):
        return None
    return Emv(
        application_name=receipt.get("application_preferred_name"),
        aid=receipt.get("dedicated_file_name"),
        arc=receipt.get("authorization_response_code"),
        tvr=receipt.get("terminal_verification_results"),
        tsi=receipt.get("transaction_status_information"),
        account_type=receipt.get("account_type"),
        cardholder_verification_method=receipt.get("cardholder_verification_method"),
        authorization_code=receipt.get("authorization_code"),
    )


def _refunds_of(
    charge: Mapping[str, Any], refunds: Sequence[Mapping[str, Any]] | None
) -> list[RefundLine]:
    if refunds is None:
        listed = charge.get("refunds")
        refunds = listed.get("data", []) if isinstance(listed, Mapping) else []
    return sorted((RefundLine.from_stripe(r) for r in refunds), key=lambda r: (r.created, r.id))


def _payment_intent_id(charge: Mapping[str, Any]) -> str | None:
    intent = charge.get("payment_intent")
    if isinstance(intent, Mapping):
        return str(intent["id"])
    return str(intent) if intent else None


def sale_receipt(
    charge: Mapping[str, Any],
    order: OrderFacts,
    merchant: Merchant,
    refunds: Sequence[Mapping[str, Any]] | None = None,
) -> Receipt:
    """The customer's copy of a sale, with any refunds made since (from `refunds` or the charge)."""
    captured = bool(charge.get("captured"))
    amount = int(charge.get("amount_captured") or 0) if captured else int(charge.get("amount") or 0)
    return Receipt(
        kind="sale",
        merchant=merchant,
        order=order,
        charge_id=str(charge["id"]),
        payment_intent_id=_payment_intent_id(charge),
        created=int(charge.get("created") or 0),
        captured=captured,
        card=card_from_charge(charge),
        emv=emv_from_charge(charge),
        amount=amount,
        refunds=tuple(_refunds_of(charge, refunds)),
    )


def refund_receipt(
    charge: Mapping[str, Any],
    refund: Mapping[str, Any],
    order: OrderFacts,
    merchant: Merchant,
) -> Receipt:
    """The customer's copy of one refund, naming the card it went back to."""
    line = RefundLine.from_stripe(refund)
    return Receipt(
        kind="refund",
        merchant=merchant,
        order=order,
        charge_id=str(charge["id"]),
        payment_intent_id=_payment_intent_id(charge),
        created=line.created or int(charge.get("created") or 0),
        captured=True,
        card=card_from_charge(charge),
        emv=emv_from_charge(charge),
        amount=line.amount,
        refund=line,
    )
