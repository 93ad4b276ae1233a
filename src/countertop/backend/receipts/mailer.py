"""Receipts by email over SMTP, configured by one URL (`COUNTERTOP_SMTP_URL`).

`smtp://user:password@host:587?from=receipts@example.com` uses STARTTLS when the server offers it;
`smtps://...:465` uses TLS from the first byte. `from` is the sender address (default
`receipts@<host>`); user and password are optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class SmtpNotConfigured(Exception):
    """No `COUNTERTOP_SMTP_URL`, or one this module cannot read."""


class SmtpFailed(Exception):
    """The SMTP server could not be reached or refused the message."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None
    sender: str
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str | None) -> SmtpConfig:
        if not url:
            raise SmtpNotConfigured("COUNTERTOP_SMTP_URL is not set")
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise SmtpNotConfigured("COUNTERTOP_SMTP_URL must look like smtp://host:port")
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=query.get("from", [f"receipts@{parts.hostname}"])[0],
            timeout=float(query.get("timeout", ["10"])[0]),
        )


def compose(sender: str, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


async def send(config: SmtpConfig, message: EmailMessage) -> None:
    try:
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.implicit_tls,
            start_tls=None if not config.implicit_tls else False,
            timeout=config.timeout,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SmtpFailed(f"{config.host}:{config.port}: {exc}") from exc
