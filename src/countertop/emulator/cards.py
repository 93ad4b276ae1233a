"""Stripe's test cards and test amounts (FACTS.md section 3), and what each one does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    number: str
    brand: str
    funding: str = "credit"
    country: str = "US"
    cvm: str = "none"  # the receipt's cardholder_verification_method
    read_method: str = "contactless_emv"
    # The outcome: None approves; otherwise (code, decline_code).
    decline: tuple[str, str | None] | None = None
    refund_fails: bool = False
    network: str | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str | None
    message: str


_BRANDS = {
    "4242424242424242": ("visa", "credit"),
    "4000056655665556": ("visa", "debit"),
    "5555555555554444": ("mastercard", "credit"),
    "5200828282828210": ("mastercard", "debit"),
    "5105105105105100": ("mastercard", "prepaid"),
    "378282246310005": ("amex", "credit"),
    "371449635398431": ("amex", "credit"),
    "6011111111111117": ("discover", "credit"),
    "6011000990139424": ("discover", "credit"),
    "3056930009020004": ("diners", "credit"),
    "36227206271667": ("diners", "credit"),
    "3566002020360505": ("jcb", "credit"),
    "6200000000000005": ("unionpay", "credit"),
    "4506445006931933": ("interac", "debit"),
    "6280000360000978": ("eftpos_au", "debit"),
    "4000050360000001": ("eftpos_au", "debit"),
    "5555050360000080": ("eftpos_au", "debit"),
}

_SPECIAL = {
    "4001007020000002": Card(
        "4001007020000002", "visa", cvm="offline_pin", read_method="contact_emv"
    ),
    "4000008260000075": Card(
        "4000008260000075", "visa", cvm="offline_pin", read_method="contact_emv"
    ),
    "4001000360000005": Card("4001000360000005", "visa", cvm="online_pin"),
    "4000002760000008": Card("4000002760000008", "visa", cvm="online_pin"),
    "4000000000000002": Card(
        "4000000000000002", "visa", decline=("card_declined", "generic_decline")
    ),
    "4000000000009995": Card(
        "4000000000009995", "visa", decline=("card_declined", "insufficient_funds")
    ),
    "4000000000009987": Card("4000000000009987", "visa", decline=("card_declined", "lost_card")),
    "4000000000009979": Card("4000000000009979", "visa", decline=("card_declined", "stolen_card")),
    "4000000000000069": Card("4000000000000069", "visa", decline=("expired_card", "expired_card")),
    "4000000000000119": Card(
        "4000000000000119", "visa", decline=("processing_error", "processing_error")
    ),
    "4000000000000127": Card(
        "4000000000000127", "visa", decline=("incorrect_cvc", "incorrect_cvc")
    ),
    "4000000000005126": Card("4000000000005126", "visa", refund_fails=True),
}

# Cents of the amount -> (code, decline_code); "00" and anything else approve.
AMOUNT_DECLINES: dict[int, tuple[str, str]] = {
    1: ("card_declined", "call_issuer"),
    2: ("offline_pin_required", "offline_pin_required"),
    3: ("online_or_offline_pin_required", "online_or_offline_pin_required"),
    5: ("card_declined", "generic_decline"),
    55: ("card_declined", "incorrect_pin"),
    60: ("online_or_offline_pin_required", "online_or_offline_pin_required"),
    65: ("card_declined", "withdrawal_count_limit_exceeded"),
    75: ("card_declined", "pin_try_exceeded"),
}

# Amount endings that decline a partial refund (FACTS.md section 3).
PARTIAL_REFUND_DECLINES = frozenset({1, 5, 55, 65, 75})

_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "call_issuer": "Your card was declined. You can call your bank for details.",
    "incorrect_pin": "Your card was declined. The PIN entered is incorrect.",
    "withdrawal_count_limit_exceeded": (
        "Your card was declined. The customer has exceeded the balance or credit limit "
        "available on their card."
    ),
    "pin_try_exceeded": (
        "Your card was declined. The allowable number of PIN tries has been exceeded."
    ),
    "offline_pin_required": (
        "This transaction requires a PIN. In testmode, use a test amount ending in 00 or "
        "present a PIN card."
    ),
    "online_or_offline_pin_required": (
        "This transaction requires a PIN. In testmode, use a test amount ending in 00 or "
        "present a PIN card."
    ),
}

DEFAULT_CARD_PRESENT = "4242424242424242"
REFUND_FAILS = "4000000000005126"
DEFAULT_INTERAC = "4506445006931933"

APPLICATION = {
    "visa": ("A0000000031010", "Visa Credit"),
    "mastercard": ("A0000000041010", "Mastercard"),
    "amex": ("A00000002501", "American Express"),
    "discover": ("A0000001523010", "Discover"),
    "diners": ("A0000001523010", "Diners Club"),
    "jcb": ("A0000000651010", "JCB"),
    "unionpay": ("A000000333010101", "UnionPay"),
    "interac": ("A0000002771010", "Interac"),
    "eftpos_au": ("A000000384", "eftpos"),
}

# Card-not-present test PaymentMethods (``pm_card_visa`` and friends) -> card number.
TEST_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_mastercard_debit": "5200828282828210",
    "pm_card_mastercard_prepaid": "5105105105105100",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_diners": "3056930009020004",
    "pm_card_jcb": "3566002020360505",
    "pm_card_unionpay": "6200000000000005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
}


def lookup(number: str) -> Card | None:
    """The test card for ``number``, or None when it is not a known test number."""
    special = _SPECIAL.get(number)
    if special is not None:
        return special
    known = _BRANDS.get(number)
    if known is None:
        return None
    brand, funding = known
    if brand == "interac":  # the Interac test card does not support contactless
        return Card(number, brand, funding, country="CA", read_method="contact_emv")
    return Card(number, brand, funding)


_PIN_ENDINGS = frozenset({2, 3, 60})


def decline_for(card: Card, amount: int, in_person: bool = True) -> Decline | None:
    """The decline this card and amount produce, or None when the payment is approved.

    Amount endings decline only in person; a PIN card satisfies the PIN-prompting endings.
    """
    outcome = card.decline
    cents = amount % 100
    if outcome is None and in_person and not (card.cvm != "none" and cents in _PIN_ENDINGS):
        outcome = AMOUNT_DECLINES.get(cents)
    if outcome is None:
        return None
    code, decline_code = outcome
    return Decline(
        code, decline_code, _MESSAGES.get(decline_code or code, _MESSAGES["generic_decline"])
    )


def account_type(card: Card) -> str:
    return {"credit": "credit", "debit": "checking", "prepaid": "prepaid"}.get(
        card.funding, "unknown"
    )
