"""Small helpers shared by the resource handlers."""

from __future__ import annotations

from countertop.emulator.context import Ctx
from countertop.emulator.errors import no_such
from countertop.emulator.store import Obj


def load(ctx: Ctx, collection: str, kind: str, object_id: str, param: str = "id") -> Obj:
    found = ctx.account.get(collection, object_id)
    if found is None:
        raise no_such(kind, object_id, param)
    return found


def deleted(obj: Obj) -> Obj:
    return {"id": obj["id"], "object": obj["object"], "deleted": True}
