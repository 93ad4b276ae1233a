"""Injected API faults (errors, dropped responses, latency) and per-reader simulation switches."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

API_FAULT_KINDS = ("error", "drop_response", "latency")


@dataclass
class ApiFault:
    """A rule matched against each Stripe API request.

    ``error`` answers ``status`` (500 by default) without doing anything; ``drop_response`` does
    the work and then closes the connection without an answer; ``latency`` waits ``delay_ms``
    before doing the work. ``path`` is a glob (``/v1/payment_intents/*/capture``); ``count``
    limits how many requests it hits (None: until cleared); ``probability`` hits at random.
    """

    kind: str
    method: str | None = None
    path: str | None = None
    count: int | None = 1
    probability: float = 1.0
    status: int = 500
    delay_ms: int = 0
    id: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is not None and not fnmatchcase(path, self.path):
            return False
        return self.probability >= 1.0 or random.random() < self.probability

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ApiFaults:
    rules: list[ApiFault] = field(default_factory=list)
    next_id: int = 1

    def add(self, fault: ApiFault) -> ApiFault:
        fault.id = self.next_id
        self.next_id += 1
        self.rules.append(fault)
        return fault

    def take(self, method: str, path: str) -> list[ApiFault]:
        """The faults hitting this request (at most one of each kind), using up their counts."""
        if not self.rules:
            return []
        hits: list[ApiFault] = []
        kinds: set[str] = set()
        for fault in list(self.rules):
            if fault.kind in kinds or not fault.matches(method, path):
                continue
            kinds.add(fault.kind)
            hits.append(fault)
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.rules.remove(fault)
        return hits


@dataclass
class AutoPresent:
    after_ms: int = 0
    type: str | None = None  # None: the card type the action's PaymentIntent defaults to
    number: str | None = None
    amount_tip: int | None = None


@dataclass
class ReaderSwitches:
    """Simulation state of one reader that Stripe's API does not show."""

    offline: bool = False
    busy: bool = False
    timeouts: int = 0
    timeout_delivered: bool = False
    # "waiting" for a card, "collected" (holding a card for confirm), "processing" (after a card).
    phase: str = "idle"
    action_delay_ms: int | None = None
    auto_present: AutoPresent | None = None
    generation: int = 0
    # process_setup_intent's allow_redisplay, for the card it generates.
    allow_redisplay: str = "unspecified"
    # The card held after collect_payment_method (a device.Presented).
    collected: Any = None
