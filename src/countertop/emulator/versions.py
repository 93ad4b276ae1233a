"""How an answer changes with the API version it is rendered at (``Stripe-Version``).

Objects are stored in one shape; what differs between versions is applied when they are rendered,
for API answers (the request's version) and for events (the version the event was created at).

- 2022-11-15: a Charge no longer carries its ``refunds`` list unless the request expands
  ``refunds`` (changelog: "The Charges object no longer auto-expands refunds by default").
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from countertop.emulator.store import Obj

CHARGE_REFUNDS_EXPANDABLE_SINCE = "2022-11-15"


def _charge(node: Any, prefix: str, expanded: Collection[str]) -> Any:
    if (
        isinstance(node, dict)
        and node.get("object") == "charge"
        and "refunds" in node
        and prefix + "refunds" not in expanded
    ):
        return {key: value for key, value in node.items() if key != "refunds"}
    return node


def _one(node: Any, prefix: str, expanded: Collection[str]) -> Any:
    if not isinstance(node, dict):
        return node
    kind = node.get("object")
    if kind == "charge":
        return _charge(node, prefix, expanded)
    if kind in ("payment_intent", "refund"):
        field = "latest_charge" if kind == "payment_intent" else "charge"
        inner = node.get(field)
        if isinstance(inner, dict):
            rendered = _charge(inner, f"{prefix}{field}.", expanded)
            if rendered is not inner:
                return {**node, field: rendered}
        return node
    if kind == "event":
        data = node.get("data") or {}
        inner = data.get("object")
        rendered = _charge(inner, "data.object.", ())
        if rendered is not inner:
            return {**node, "data": {**data, "object": rendered}}
    return node


def render(obj: Obj, version: str, expanded: Collection[str] = ()) -> Obj:
    """``obj`` as Stripe shows it at API ``version``, given the request's ``expand[]`` paths.

    Returns ``obj`` itself when nothing changes, otherwise a copy (stored objects stay whole).
    """
    if version[:10] < CHARGE_REFUNDS_EXPANDABLE_SINCE:
        return obj
    if obj.get("object") == "list" and isinstance(obj.get("data"), list):
        items = obj["data"]
        rendered = [_one(item, "data.", expanded) for item in items]
        if any(new is not old for new, old in zip(rendered, items, strict=True)):
            return {**obj, "data": rendered}
        return obj
    result: Obj = _one(obj, "", expanded)
    return result
