"""Object ids and secrets in Stripe's style: a prefix and random base-62 characters."""

from __future__ import annotations

import random
import secrets
import string
import uuid

_ALPHABET = string.ascii_letters + string.digits


# Maps every byte to a base-62 character (the slight bias toward the first 8 is harmless here).
_BYTES_TO_CHARS = bytes(ord(_ALPHABET[value % 62]) for value in range(256))


# A generator of our own, seeded from the OS: the module-level one is shared with whatever embeds
# the emulator, and a host that seeds it (test frameworks such as hypothesis do, per example)
# would otherwise make the emulator hand out the same ids again.
_IDS = random.Random(secrets.randbits(128))


def random_chars(length: int) -> str:
    """Fast, non-secret randomness for ids."""
    return _IDS.randbytes(length).translate(_BYTES_TO_CHARS).decode()


def secret_chars(length: int) -> str:
    """Unguessable characters for signing secrets and client secrets."""
    return secrets.token_bytes(length).translate(_BYTES_TO_CHARS).decode()


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + random_chars(length)


def request_id() -> str:
    return "req_" + random_chars(14)


def serial_number() -> str:
    return str(uuid.uuid4())


def hex_chars(length: int) -> str:
    return random.randbytes((length + 1) // 2).hex()[:length].upper()


def digits(length: int) -> str:
    return "".join(random.choices(string.digits, k=length))


# Which collection an id belongs to, by its prefix: used by expand and by id lookups.
PREFIXES: dict[str, str] = {
    "pi_": "payment_intents",
    "ch_": "charges",
    "re_": "refunds",
    "pm_": "payment_methods",
    "seti_": "setup_intents",
    "evt_": "events",
    "tml_": "locations",
    "tmr_": "readers",
    "tmc_": "configurations",
    "we_": "webhook_endpoints",
}


def collection_of(object_id: str) -> str | None:
    cut = object_id.find("_")
    if cut < 0:
        return None
    return PREFIXES.get(object_id[: cut + 1])
