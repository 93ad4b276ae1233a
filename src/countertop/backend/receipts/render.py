"""HTML receipts from the domain `Receipt`, with a print stylesheet for 80 mm thermal paper or A4."""

from __future__ import annotations

from datetime import UTC, tzinfo
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape

from countertop.domain.receipt_text import render_text
from countertop.domain.receipts import Receipt

Paper = Literal["80mm", "a4"]
TIME_FORMAT = "%Y-%m-%d %H:%M %Z"
# Served on its own: no scripts, nothing fetched, only its inline stylesheet.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'"

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(receipt: Receipt, *, paper: Paper = "80mm", tz: tzinfo = UTC) -> str:
    when = receipt.created_at.astimezone(tz).strftime(TIME_FORMAT)
    return _env.get_template("receipt.html").render(r=receipt, paper=paper, when=when)


def subject(receipt: Receipt) -> str:
    what = "refund" if receipt.kind == "refund" else "receipt"
    return f"Your {what} from {receipt.merchant.name}: {receipt.money(receipt.amount)}"


def render(receipt: Receipt, fmt: Literal["html", "text"], *, paper: Paper = "80mm") -> str:
    return render_html(receipt, paper=paper) if fmt == "html" else render_text(receipt)
