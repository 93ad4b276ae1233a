"""Receipt rendering and delivery, against a real local SMTP server."""

from __future__ import annotations

import pytest

from countertop.backend.receipts.mailer import (
    SmtpConfig,
    SmtpFailed,
    SmtpNotConfigured,
    compose,
    send,
)
from countertop.backend.receipts.render import render_html, subject
from countertop.domain.receipt_text import render_text
from countertop.domain.receipts import sale_receipt
from tests.backend.smtp_support import Inbox, free_port, parts, smtp_server
from tests.unit.test_receipts import MERCHANT, ORDER, charge

__all__ = ["smtp_server"]


def test_html_receipt_shows_cart_card_and_every_emv_field() -> None:
    html = render_html(sale_receipt(charge(), ORDER, MERCHANT))
    for expected in (
        "Corner Coffee",
        "2000 Mission St",
        "2 \u00d7 Flat white",
        "$13.07",
        "VISA •••• 4242",
        "Visa Credit",
        "A0000000031010",
        "3030",
        "0080008000",
        "6800",
        "PIN verified",
        "123456",
        "ch_3Q",
    ):
        assert expected in html, expected


def test_print_stylesheet_fits_thermal_paper_or_a4() -> None:
    receipt = sale_receipt(charge(), ORDER, MERCHANT)
    assert "size: 80mm auto" in render_html(receipt)
    assert "size: A4" in render_html(receipt, paper="a4")
    assert "@media print" in render_html(receipt)


def test_merchant_text_is_escaped() -> None:
    from dataclasses import replace

    merchant = replace(MERCHANT, name="<script>alert(1)</script>")
    html = render_html(sale_receipt(charge(), ORDER, merchant))
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", ("mail.example", 2525, False, None, "receipts@mail.example")),
        (
            "smtps://u%40x:p%2Fw@mail.example?from=till%40shop.example",
            ("mail.example", 465, True, "u@x", "till@shop.example"),
        ),
    ],
)
def test_smtp_url(url: str, expected: tuple[object, ...]) -> None:
    config = SmtpConfig.from_url(url)
    assert (
        config.host,
        config.port,
        config.implicit_tls,
        config.username,
        config.sender,
    ) == expected


@pytest.mark.parametrize("url", [None, "", "http://mail.example", "smtp://"])
def test_missing_or_unreadable_smtp_url(url: str | None) -> None:
    with pytest.raises(SmtpNotConfigured):
        SmtpConfig.from_url(url)


async def test_receipt_email_arrives_with_text_and_html_bodies(
    smtp_server: tuple[str, Inbox],
) -> None:
    url, inbox = smtp_server
    receipt = sale_receipt(charge(), ORDER, MERCHANT)
    text, html = render_text(receipt), render_html(receipt)
    config = SmtpConfig.from_url(url)
    await send(config, compose(config.sender, "ana@example.com", subject(receipt), text, html))
    [(envelope, message)] = inbox.messages
    assert envelope.mail_from == "receipts@corner.example"
    assert envelope.rcpt_tos == ["ana@example.com"]
    assert message["Subject"] == "Your receipt from Corner Coffee: $13.07"
    got_text, got_html = parts(message)
    assert got_text.replace("\r\n", "\n") == text
    assert got_html.replace("\r\n", "\n").strip() == html.strip()


async def test_unreachable_smtp_server_is_a_clear_failure() -> None:
    config = SmtpConfig.from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2")
    with pytest.raises(SmtpFailed, match=r"127\.0\.0\.1"):
        await send(config, compose("a@b.example", "c@d.example", "s", "t", "<p>h</p>"))
