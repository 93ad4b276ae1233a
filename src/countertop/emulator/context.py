"""What a resource handler works with: the emulator, the account, the parameters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from countertop.emulator.ids import new_id
from countertop.emulator.store import Account, Obj

if TYPE_CHECKING:
    from countertop.emulator.emulator import Emulator

DEFAULT_API_VERSION = "2023-09-12"


@dataclass
class Ctx:
    emulator: Emulator
    account: Account
    params: dict[str, Any] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str = DEFAULT_API_VERSION

    @staticmethod
    def now() -> int:
        return int(time.time())

    def emit(self, event_type: str, obj: Obj, previous: dict[str, Any] | None = None) -> Obj:
        """Record an event with a snapshot of ``obj`` and queue its webhook deliveries."""
        data: dict[str, Any] = {"object": orjson.loads(orjson.dumps(obj))}
        if previous is not None:
            data["previous_attributes"] = previous
        request = None
        if self.request_id is not None:
            request = {"id": self.request_id, "idempotency_key": self.idempotency_key}
        event: Obj = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": request or {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        if self.account.id:
            event["account"] = self.account.id
        self.account.add("events", event)
        self.emulator.webhooks.enqueue(self.account, event)
        return event
