"""Request bodies of the payment routes (validated by FastAPI, documented in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")


def _printable(text: str) -> str:
    """Refuse control characters (PostgreSQL cannot store NUL; receipts cannot print them)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("must not contain control characters")
    if not text.strip():
        raise ValueError("must not be blank")
    return text


Text = Annotated[str, AfterValidator(_printable)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineItemIn(Body):
    description: Text = Field(min_length=1, max_length=200)
    quantity: int = Field(strict=True, ge=1, le=10_000)
    unit_amount: int = Field(strict=True, ge=0, le=99_999_999)


class OrderIn(Body):
    location: str = ID
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    line_items: list[LineItemIn] | None = Field(default=None, max_length=100)
    tax: int = Field(default=0, strict=True, ge=0, le=99_999_999)
    amount: int | None = Field(default=None, strict=True, ge=1, le=99_999_999)


class PaymentIn(Body):
    reader: str = ID


class RetryIn(Body):
    reader: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$"
    )


class ReaderIn(Body):
    registration_code: str = Field(min_length=1, max_length=100)
    label: Text | None = Field(default=None, max_length=100)
    location: str = ID


class ReaderPatch(Body):
    label: Text = Field(max_length=100)


class SimulateIn(Body):
    card_number: str | None = Field(default=None, min_length=12, max_length=19, pattern=r"^[0-9]+$")
    amount_tip: int | None = Field(default=None, strict=True, ge=0, le=99_999_999)
    type: str | None = Field(default=None, max_length=32)


class AddressIn(Body):
    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str = Field(min_length=2, max_length=2)


class LocationIn(Body):
    display_name: Text = Field(min_length=1, max_length=1000)
    address: AddressIn
    # A connected account (Stripe Connect) the location is created on; None: the platform.
    account: str | None = Field(default=None, pattern=r"^acct_[A-Za-z0-9]{1,60}$")


class LocationPatch(Body):
    display_name: Text | None = Field(default=None, min_length=1, max_length=1000)
    address: AddressIn | None = None


class RefundIn(Body):
    amount: int | None = Field(default=None, strict=True, ge=1, le=99_999_999)
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None


class InPersonRefundIn(RefundIn):
    """An Interac refund: the reader the customer taps the same card on."""

    reader: str = ID
