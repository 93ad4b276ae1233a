"""``/_emulator/...``: simulation and fault controls over HTTP (JSON bodies).

Each route mirrors a method of ``Emulator``; docs/emulator.md lists them all.
"""

from __future__ import annotations

from typing import Any

import orjson

from countertop.emulator.emulator import Emulator

Answer = tuple[int, Any]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ControlError(400, f"the body is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise ControlError(400, "the body must be a JSON object")
    return value


def _int(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ControlError(400, f"{name} must be a non-negative integer")
    return value


def _float(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ControlError(400, f"{name} must be a number between 0 and 1")
    return float(value)


def _reader(
    emulator: Emulator, method: str, reader_id: str, verb: str, body: dict[str, Any]
) -> Answer:
    if emulator.store.find("readers", reader_id) is None:
        raise ControlError(404, f"no such reader: {reader_id}")
    if verb in ("offline", "online"):
        emulator.set_reader_offline(reader_id, verb == "offline")
    elif verb == "busy":
        emulator.set_reader_busy(reader_id, bool(body.get("busy", True)))
    elif verb == "timeout":
        emulator.set_reader_timeout(
            reader_id, _int(body, "count", 1) or 0, bool(body.get("delivered", False))
        )
    elif verb == "customer_cancel":
        try:
            emulator.customer_cancel(reader_id)
        except ValueError as error:
            raise ControlError(400, str(error)) from error
    elif verb == "action_delay":
        emulator.set_action_delay(_int(body, "delay_ms", 0) or 0, reader_id)
    elif verb == "auto_present":
        if method == "DELETE" or body.get("after_ms") is None:
            emulator.set_auto_present(reader_id, None)
        else:
            emulator.set_auto_present(
                reader_id,
                _int(body, "after_ms", 0),
                body.get("type"),
                body.get("number"),
                _int(body, "amount_tip", None),
            )
    else:
        raise ControlError(404, f"unknown reader control: {verb}")
    switches = emulator.switches(reader_id)
    return 200, {
        "reader": reader_id,
        "offline": switches.offline,
        "busy": switches.busy,
        "timeouts": switches.timeouts,
        "timeout_delivered": switches.timeout_delivered,
        "action_delay_ms": switches.action_delay_ms,
        "auto_present": None if switches.auto_present is None else switches.auto_present.__dict__,
    }


def _api_faults(emulator: Emulator, method: str, body: dict[str, Any]) -> Answer:
    if method == "DELETE":
        emulator.clear_api_faults()
        return 200, {"faults": []}
    if method == "GET":
        return 200, {"faults": [fault.describe() for fault in emulator.faults.rules]}
    try:
        fault = emulator.add_api_fault(
            str(body.get("kind", "error")),
            method=body.get("method"),
            path=body.get("path"),
            count=_int(body, "count", 1)
            if "count" not in body or body["count"] is not None
            else None,
            probability=_float(body, "probability", 1.0),
            status=_int(body, "status", 500) or 500,
            delay_ms=_int(body, "delay_ms", 0) or 0,
        )
    except ValueError as error:
        raise ControlError(400, str(error)) from error
    return 200, fault.describe()


def _webhooks(emulator: Emulator, method: str, verb: str, body: dict[str, Any]) -> Answer:
    if verb == "faults":
        if method == "DELETE":
            emulator.clear_webhook_faults()
            return 200, {"faults": []}
        if method == "GET":
            return 200, {"faults": [fault.__dict__ for fault in emulator.webhooks.faults]}
        try:
            emulator.add_webhook_fault(
                str(body.get("kind", "")),
                count=_int(body, "count", 1)
                if "count" not in body or body["count"] is not None
                else None,
                probability=_float(body, "probability", 1.0),
                delay_ms=_int(body, "delay_ms", 0) or 0,
                event_types=list(body.get("event_types") or []),
            )
        except ValueError as error:
            raise ControlError(400, str(error)) from error
        return 200, {"faults": [fault.__dict__ for fault in emulator.webhooks.faults]}
    if verb == "config":
        urls = body.get("urls")
        emulator.configure_webhooks(
            _int(body, "retry_base_ms", None),
            _int(body, "max_attempts", None),
            list(urls) if isinstance(urls, list) else None,
        )
        settings = emulator.webhooks.settings
        return 200, {
            "retry_base_ms": settings.retry_base_ms,
            "max_attempts": settings.max_attempts,
            "urls": settings.urls,
        }
    if verb == "deliveries":
        return 200, {"deliveries": emulator.deliveries()}
    if verb == "secret":
        return 200, {"secret": emulator.webhook_secret}
    raise ControlError(404, f"unknown webhook control: {verb}")


def _expire(emulator: Emulator, intent_id: str) -> Answer:
    try:
        emulator.expire_authorization(intent_id)
    except KeyError as error:
        raise ControlError(404, f"no such payment_intent: {intent_id}") from error
    except ValueError as error:
        raise ControlError(400, str(error)) from error
    return 200, {"payment_intent": intent_id, "expired": True}


def _summary(emulator: Emulator) -> dict[str, Any]:
    with emulator.lock:
        return {
            "accounts": {
                account.id or "platform": {
                    name: len(collection) for name, collection in account.collections.items()
                }
                for account in emulator.store.accounts.values()
            },
            "action_delay_ms": emulator.action_delay_ms,
            "pending_webhooks": emulator.webhooks.pending,
            "faults": [fault.describe() for fault in emulator.faults.rules],
        }


async def handle(emulator: Emulator, method: str, path: str, raw: bytes) -> Answer:
    parts = path.strip("/").split("/")[1:]
    try:
        body = _body(raw)
        if parts == ["reset"] and method == "POST":
            emulator.reset()
            return 200, {"reset": True}
        if parts == ["state"]:
            return 200, _summary(emulator)
        if parts == ["timing"] and method == "POST":
            emulator.set_action_delay(_int(body, "action_delay_ms", 0) or 0)
            return 200, {"action_delay_ms": emulator.action_delay_ms}
        if parts == ["faults"]:
            return _api_faults(emulator, method, body)
        if parts == ["webhooks", "flush"] and method == "POST":
            timeout = body.get("timeout", 10)
            if isinstance(timeout, bool) or not isinstance(timeout, int | float):
                raise ControlError(400, "timeout must be a number of seconds")
            done = await emulator.flush_webhooks_async(float(timeout))
            return (200 if done else 504), {"flushed": done, "pending": emulator.pending_webhooks()}
        if len(parts) == 2 and parts[0] == "webhooks":
            return _webhooks(emulator, method, parts[1], body)
        if len(parts) == 3 and parts[0] == "payment_intents" and parts[2] == "expire":
            return _expire(emulator, parts[1])
        if len(parts) == 3 and parts[0] == "readers":
            return _reader(emulator, method, parts[1], parts[2], body)
        raise ControlError(404, f"unknown emulator control: {method} {path}")
    except ControlError as error:
        return error.status, {"error": {"message": str(error)}}
