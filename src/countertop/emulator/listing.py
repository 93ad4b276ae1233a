"""List objects (pagination) and ``expand[]`` of ids into objects, dotted paths included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from countertop.emulator import params as p
from countertop.emulator.errors import invalid, no_such
from countertop.emulator.ids import collection_of
from countertop.emulator.store import Account, Collection, Obj

LIST_PARAMS = ("limit", "starting_after", "ending_before", "expand")


_BOUNDS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def created_filter(value: Any) -> Callable[[Obj], bool]:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>`` as a predicate."""
    if value is None or value == "":
        return lambda obj: True
    if isinstance(value, str):
        exact = p.integer({"created": value}, "created")
        return lambda obj: obj["created"] == exact
    if not isinstance(value, dict):
        raise invalid("Invalid created filter", "created")
    checks: list[tuple[Callable[[int, int], bool], int]] = []
    for op in value:
        if op not in _BOUNDS:
            raise invalid(f"Received unknown parameter: created[{op}]", f"created[{op}]")
        number = p.integer(value, op, parent="created")
        assert number is not None
        checks.append((_BOUNDS[op], number))
    return lambda obj: all(check(obj["created"], bound) for check, bound in checks)


def list_page(
    account: Account,
    collection: str,
    params: p.Params,
    url: str,
    kind: str,
    keep: Callable[[Obj], bool] | None = None,
) -> Obj:
    limit = p.integer(params, "limit", minimum=1, maximum=100)
    starting_after = p.text(params, "starting_after")
    ending_before = p.text(params, "ending_before")
    found: Collection = account.collection(collection)
    if starting_after is not None and ending_before is not None:
        raise invalid(
            "You may only specify one of these parameters: ending_before, starting_after.",
            "ending_before",
        )
    for name, cursor in (("starting_after", starting_after), ("ending_before", ending_before)):
        if cursor is not None and cursor not in found.position:
            raise no_such(kind, cursor, name)
    if params.get("created") not in (None, ""):
        matches_created = created_filter(params["created"])
        if keep is None:
            keep = matches_created
        else:
            chosen = keep

            def keep(obj: Obj) -> bool:
                return chosen(obj) and matches_created(obj)

    items, has_more = found.page(limit or 10, starting_after, ending_before, keep)
    return {"object": "list", "data": items, "has_more": has_more, "url": url}


def equal_to(params: p.Params, names: tuple[str, ...]) -> Callable[[Obj], bool] | None:
    """A list filter keeping objects whose fields equal the given parameters (None: no filter)."""
    wanted = {name: params[name] for name in names if params.get(name)}
    if not wanted:
        return None
    return lambda obj: all(obj.get(name) == value for name, value in wanted.items())


def _copy(obj: Obj) -> Obj:
    """A deep copy of a JSON-shaped object (orjson round trip: faster than copy.deepcopy)."""
    copied: Obj = orjson.loads(orjson.dumps(obj))
    return copied


def _resolve(account: Account, value: Any, path: str) -> Any:
    if isinstance(value, str):
        name = collection_of(value)
        found = account.get(name, value) if name else None
        if found is None:
            raise invalid(f"This property cannot be expanded ({path}).", "expand")
        return _copy(found)
    if isinstance(value, dict):
        return value
    if value is None:
        return None
    raise invalid(f"This property cannot be expanded ({path}).", "expand")


def _expand_one(account: Account, obj: Any, parts: list[str], full: str) -> None:
    if not isinstance(obj, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    if obj.get("object") == "list" and head == "data":
        for item in obj.get("data", []):
            _expand_one(account, item, rest, full)
        return
    if head not in obj:
        raise invalid(f"This property cannot be expanded ({full}).", "expand")
    value = obj[head]
    if isinstance(value, str) or rest == []:
        value = obj[head] = _resolve(account, value, full)
    _expand_one(account, value, rest, full)


def expand(account: Account, obj: Obj, paths: list[str]) -> Obj:
    """A copy of ``obj`` with the ids at ``paths`` replaced by their objects."""
    if not paths:
        return obj
    result = _copy(obj)
    for path in paths:
        if path.count(".") > 3:
            raise invalid(
                f"You cannot expand more than 4 levels of a property. Property: {path}",
                "expand",
            )
        _expand_one(account, result, path.split("."), path)
    return result
