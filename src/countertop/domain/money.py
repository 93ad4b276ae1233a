"""Money: integer minor units plus a lowercase ISO 4217 currency, as Stripe has it. Never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass

from countertop.domain.errors import DomainError

# Stripe's zero-decimal currencies: the amount is already in whole units.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
# The presentment currencies Stripe accepts; any other three letters are refused up front rather
# than by Stripe when the PaymentIntent is created.
STRIPE_CURRENCIES = frozenset(
    [
        "aed",
        "afn",
        "all",
        "amd",
        "ang",
        "aoa",
        "ars",
        "aud",
        "awg",
        "azn",
        "bam",
        "bbd",
        "bdt",
        "bgn",
        "bhd",
        "bif",
        "bmd",
        "bnd",
        "bob",
        "brl",
        "bsd",
        "bwp",
        "byn",
        "bzd",
        "cad",
        "cdf",
        "chf",
        "clp",
        "cny",
        "cop",
        "crc",
        "cve",
        "czk",
        "djf",
        "dkk",
        "dop",
        "dzd",
        "egp",
        "etb",
        "eur",
        "fjd",
        "fkp",
        "gbp",
        "gel",
        "gip",
        "gmd",
        "gnf",
        "gtq",
        "gyd",
        "hkd",
        "hnl",
        "htg",
        "huf",
        "idr",
        "ils",
        "inr",
        "isk",
        "jmd",
        "jod",
        "jpy",
        "kes",
        "kgs",
        "khr",
        "kmf",
        "krw",
        "kwd",
        "kyd",
        "kzt",
        "lak",
        "lbp",
        "lkr",
        "lrd",
        "lsl",
        "mad",
        "mdl",
        "mga",
        "mkd",
        "mmk",
        "mnt",
        "mop",
        "mur",
        "mvr",
        "mwk",
        "mxn",
        "myr",
        "mzn",
        "nad",
        "ngn",
        "nio",
        "nok",
        "npr",
        "nzd",
        "omr",
        "pab",
        "pen",
        "pgk",
        "php",
        "pkr",
        "pln",
        "pyg",
        "qar",
        "ron",
        "rsd",
        "rub",
        "rwf",
        "sar",
        "sbd",
        "scr",
        "sek",
        "sgd",
        "shp",
        "sle",
        "sll",
        "sos",
        "srd",
        "std",
        "szl",
        "thb",
        "tjs",
        "tnd",
        "top",
        "try",
        "ttd",
        "twd",
        "tzs",
        "uah",
        "ugx",
        "usd",
        "uyu",
        "uzs",
        "vnd",
        "vuv",
        "wst",
        "xaf",
        "xcd",
        "xof",
        "xpf",
        "yer",
        "zar",
        "zmw",
    ]
)
# Stripe's limit on a single charge amount (eight digits in minor units).
MAX_AMOUNT = 99_999_999
_CURRENCY = re.compile(r"^[a-z]{3}$")


def normalize_currency(currency: str) -> str:
    code = currency.strip().lower()
    if not _CURRENCY.match(code):
        raise DomainError(f"{currency!r} is not a three-letter ISO currency code")
    if code not in STRIPE_CURRENCIES:
        raise DomainError(f"{currency!r} is not a currency Stripe supports")
    return code


def check_amount(amount: int, *, what: str = "amount", allow_zero: bool = True) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DomainError(f"{what} must be an integer number of minor units")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise DomainError(f"{what} must be {'zero or more' if allow_zero else 'positive'}")
    if amount > MAX_AMOUNT:
        raise DomainError(f"{what} must be at most {MAX_AMOUNT}")
    return amount


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        check_amount(self.amount)
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise DomainError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def format(self) -> str:
        """Plain display, e.g. `12.50 USD` or `1200 JPY`."""
        if self.currency in ZERO_DECIMAL:
            return f"{self.amount} {self.currency.upper()}"
        return f"{self.amount // 100}.{self.amount % 100:02d} {self.currency.upper()}"
