"""Secrets, credentials, signatures and card numbers never reach a log line."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from countertop.backend.logs import configure_logging
from countertop.backend.redaction import (
    SENSITIVE_NAMES,
    Redactor,
    luhn_valid,
    may_hold_sensitive,
    redact_patterns,
)
from countertop.backend.settings import Settings

SECRET_KEY = "sk_test_51Hq4sQFAKEkeyABCDEFGHIJ0123456789"
RESTRICTED_KEY = "rk_live_51Hq4sQrestrictedKEY987654321"
WEBHOOK_SECRET = "whsec_9fJ3kLmN0pQrStUvWxYz12345678"
CREDENTIAL = "ctk_Q2hlY2tvdXQtdGlsbC1vbmUtY3JlZGVudGlhbA"
SIGNATURE = "t=1795000000,v1=" + "5a" * 32
CARD = "4242424242424242"

SECRETS = [SECRET_KEY, RESTRICTED_KEY, WEBHOOK_SECRET, CREDENTIAL, "5a" * 32, CARD]

LEAKY_LINES = [
    f"calling Stripe with api_key={SECRET_KEY}",
    f"restricted key {RESTRICTED_KEY} rejected",
    f"webhook secret is {WEBHOOK_SECRET}",
    f"headers: {{'authorization': 'Bearer {CREDENTIAL}', 'stripe-signature': '{SIGNATURE}'}}",
    f"Authorization: Bearer {CREDENTIAL}",
    f"Stripe-Signature: {SIGNATURE}",
    f'{{"credential": "{CREDENTIAL}"}}',
    f"cookie: ct_session={CREDENTIAL}; other=1",
    f"card_present number={CARD} exp 12/34",
    "card 4242 4242 4242 4242 presented",
    "card 4000-0566-5566-5556 presented",
    f"payment_method_data[card][number]={CARD}&payment_method_data[card][cvc]=123",
]


@pytest.mark.parametrize("line", LEAKY_LINES)
def test_no_secret_survives_redaction(line: str) -> None:
    redacted = Redactor().redact(line)
    for secret in [*SECRETS, "4242 4242 4242 4242", "4000-0566-5566-5556", "cvc]=123"]:
        assert secret not in redacted
    assert "[REDACTED]" in redacted


def test_ordinary_lines_are_left_alone() -> None:
    line = (
        "order ord_1a2b paid: pi_3Mtw4242424242424242 amount=1250 usd at 1795000000123 "
        "reader tmr_FDOt7wlRWd8y1K (S700) session started"
    )
    assert Redactor().redact(line) == line


# Pieces of log lines: the fragments the patterns look for, in several cases and spellings (the
# long s and the Kelvin sign match s and k case-insensitively), separators, digits and plain words.
_PIECES = st.sampled_from(
    [
        *SENSITIVE_NAMES,
        *(name.upper() for name in SENSITIVE_NAMES),
        "Stripe-Signature",
        "pa\u017f\u017fword",
        "\u212aey",
        "sk_test_",
        "rk_live_",
        "whsec_",
        "ctk_",
        "pi_123_secret_",
        "Bearer ",
        "basic ",
        "v1=",
        "v0=",
        "=",
        ": ",
        '"',
        "'",
        " ",
        "-",
        "[",
        "]",
        "4242",
        "4242424242424242",
        "0566",
        "abcdefgh",
        "POST /webhooks/stripe 200 0.5ms",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=4), max_size=12).map("".join))
@example("pa\u017f\u017fword=abcdefgh")
@example("api_\u212aey=abcdefgh")
def test_the_first_look_never_skips_a_line_the_patterns_would_change(line: str) -> None:
    if not may_hold_sensitive(line):
        assert redact_patterns(line) == line
    assert Redactor().redact(line) == redact_patterns(line)


def test_lines_without_a_fragment_skip_the_patterns() -> None:
    line = "POST /webhooks/stripe 200 0.5ms request_id=0f3a route=/webhooks/stripe status=200"
    assert not may_hold_sensitive(line)
    assert may_hold_sensitive("card 4242 4242 4242 4242")
    assert may_hold_sensitive("PASSWORD=x")


def test_card_numbers_are_recognised_by_their_check_digit() -> None:
    assert luhn_valid("4242424242424242")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4242424242424241")
    assert Redactor().redact("ref 4242424242424241") == "ref 4242424242424241"


def test_known_secret_values_are_masked_wherever_they_appear() -> None:
    redactor = Redactor(["plain-looking-session-secret"])
    assert redactor.redact("x plain-looking-session-secrety") == "x [REDACTED]y"


def logged(settings: Settings, emit: logging.Logger) -> str:
    stream = io.StringIO()
    handler = configure_logging(settings, stream)
    try:
        emit.info("stripe request: key=%s body=%s", SECRET_KEY, {"number": CARD})
        emit.warning("signature %s", SIGNATURE, extra={"authorization": f"Bearer {CREDENTIAL}"})
        emit.info("configured session secret %s", "my-own-session-secret-value")
        try:
            raise ValueError(f"webhook verification failed with {WEBHOOK_SECRET}")
        except ValueError:
            emit.exception("webhook refused")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()  # writes what it still holds
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_log_output_never_carries_a_secret(log_format: str) -> None:
    values = {
        "COUNTERTOP_LOG_FORMAT": log_format,
        "COUNTERTOP_SESSION_SECRET": "my-own-session-secret-value",
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]
    output = logged(settings, logging.getLogger("countertop.test.redaction"))
    assert "webhook refused" in output and "ValueError" in output
    for secret in [*SECRETS, "my-own-session-secret-value"]:
        assert secret not in output
    if log_format == "json":
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert len(lines) == 4
        assert lines[1]["authorization"] == "[REDACTED]"
        assert "ValueError" in lines[3]["exception"]
