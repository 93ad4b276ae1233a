from __future__ import annotations

from countertop.domain.attempts import PaymentError
from countertop.domain.declines import operator_message


def test_the_issuers_reason_wins_over_the_generic_code() -> None:
    error = PaymentError("card_declined", "Your card was declined.", "insufficient_funds")
    assert operator_message(error) == "Declined: not enough funds. Ask for another card."


def test_codes_without_a_decline_reason() -> None:
    assert "offline" in operator_message(PaymentError("terminal_reader_offline", "x"))
    assert "canceled" in operator_message(PaymentError("customer_canceled", "x"))
    assert "PIN" in operator_message(
        PaymentError("online_or_offline_pin_required", "x", "online_or_offline_pin_required")
    )


def test_unknown_codes_still_get_plain_words() -> None:
    message = operator_message(PaymentError("something_new", "Odd."))
    assert message.startswith("The payment did not go through")
