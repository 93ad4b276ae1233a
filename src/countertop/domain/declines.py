"""Stripe's decline and failure codes, in plain words an operator can say to a customer."""

from __future__ import annotations

from countertop.domain.attempts import PaymentError

_MESSAGES: dict[str, str] = {
    # decline_code values (the issuer's reason)
    "insufficient_funds": "Declined: not enough funds. Ask for another card.",
    "lost_card": "Declined: the card was reported lost. Ask for another card.",
    "stolen_card": "Declined: the card was reported stolen. Ask for another card.",
    "expired_card": "Declined: the card has expired. Ask for another card.",
    "incorrect_pin": "Wrong PIN. Ask the customer to try again.",
    "invalid_pin": "Wrong PIN. Ask the customer to try again.",
    "pin_try_exceeded": "Too many wrong PINs. Ask for another card.",
    "offline_pin_required": "This card needs its PIN. Try again and have the customer insert it.",
    "online_or_offline_pin_required": (
        "This card needs its PIN. Try again and have the customer insert it."
    ),
    "call_issuer": "Declined by the bank. The customer should call their bank, or use another card.",
    "do_not_honor": "Declined by the bank. Ask for another card.",
    "generic_decline": "Declined by the bank. Ask for another card.",
    "fraudulent": "Declined by the bank. Ask for another card.",
    "card_not_supported": "This card is not supported. Ask for another card.",
    "currency_not_supported": "This card cannot pay in this currency. Ask for another card.",
    "transaction_not_allowed": "This card cannot be used for this purchase. Ask for another card.",
    "withdrawal_count_limit_exceeded": "The card is over its limit. Ask for another card.",
    "card_velocity_exceeded": "The card is over its limit. Ask for another card.",
    "try_again_later": "The bank could not answer. Try again.",
    "processing_error": "The card could not be processed. Try again.",
    "reenter_transaction": "The card could not be processed. Try again.",
    "incorrect_cvc": "The card could not be verified. Try again or use another card.",
    "incorrect_number": "The card number is not valid. Ask for another card.",
    # reader action failure codes and error codes
    "card_declined": "Declined. Ask for another card.",
    "customer_canceled": "The customer canceled on the reader.",
    "connection_error": "The reader lost its connection. Checking whether the payment went through.",
    "terminal_reader_offline": "The reader is offline. Check its power and network, then try again.",
    "terminal_reader_timeout": "The reader did not answer in time. Try again.",
    "terminal_reader_busy": "The reader is busy with another payment.",
    "terminal_reader_hardware_fault": "The reader reported a fault. Restart it and try again.",
    "reader_action_timeout": "No card was presented in time. Try again when the customer is ready.",
    "reader_action_canceled": "The payment was cleared from the reader.",
    "payment_intent_authentication_failure": "The card could not be verified. Try again.",
}

_FALLBACK = "The payment did not go through. Try again or ask for another card."


def operator_message(error: PaymentError) -> str:
    """The most specific plain-words message: the issuer's reason first, then Stripe's code."""
    for key in (error.decline_code, error.code):
        if key and key in _MESSAGES:
            return _MESSAGES[key]
    return _FALLBACK
