"""In-memory object store, partitioned by account.

Every object is the JSON-ready dict answered to clients. A collection keeps a dict for lookups and
an append-only list of ids in creation order, so retrieving is a dict lookup and an unfiltered page
walks back from the newest id (or from a cursor's position) without touching the rest: the cost of
a request does not grow with the number of stored objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]


class Collection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.objects: dict[str, Obj] = {}
        self.order: list[str] = []
        self.position: dict[str, int] = {}

    def add(self, obj: Obj) -> None:
        object_id = obj["id"]
        if object_id not in self.position:
            self.position[object_id] = len(self.order)
            self.order.append(object_id)
        self.objects[object_id] = obj

    def get(self, object_id: str) -> Obj | None:
        return self.objects.get(object_id)

    def remove(self, object_id: str) -> Obj | None:
        return self.objects.pop(object_id, None)

    def __len__(self) -> int:
        return len(self.objects)

    def newest_first(self, before: int | None = None) -> Iterator[Obj]:
        """Objects older than position ``before`` (all when None), newest first."""
        index = len(self.order) - 1 if before is None else before - 1
        order, objects = self.order, self.objects
        while index >= 0:
            obj = objects.get(order[index])
            if obj is not None:
                yield obj
            index -= 1

    def oldest_first(self, after: int) -> Iterator[Obj]:
        """Objects newer than position ``after``, oldest first."""
        index = after + 1
        order, objects = self.order, self.objects
        while index < len(order):
            obj = objects.get(order[index])
            if obj is not None:
                yield obj
            index += 1

    def page(
        self,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        keep: Callable[[Obj], bool] | None = None,
    ) -> tuple[list[Obj], bool]:
        """One page, newest first, and whether more objects lie beyond it."""
        if ending_before is not None:
            items: list[Obj] = []
            source = self.oldest_first(self.position[ending_before])
            for obj in source:
                if keep is None or keep(obj):
                    if len(items) == limit:
                        items.reverse()
                        return items, True
                    items.append(obj)
            items.reverse()
            return items, False
        before = None if starting_after is None else self.position[starting_after]
        items = []
        for obj in self.newest_first(before):
            if keep is None or keep(obj):
                if len(items) == limit:
                    return items, True
                items.append(obj)
        return items, False


class Account:
    """All state of one Stripe account (the platform, or one connected account)."""

    def __init__(self, account_id: str, tracking: bool = False) -> None:
        self.id = account_id
        # Only a state file needs to know what changed; without one nothing is recorded.
        self.tracking = tracking
        self.collections: dict[str, Collection] = {}
        self.dirty: set[tuple[str, str]] = set()
        self.deleted: set[tuple[str, str]] = set()

    def collection(self, name: str) -> Collection:
        found = self.collections.get(name)
        if found is None:
            found = self.collections[name] = Collection(name)
        return found

    def get(self, name: str, object_id: str) -> Obj | None:
        found = self.collections.get(name)
        return None if found is None else found.objects.get(object_id)

    def add(self, name: str, obj: Obj) -> Obj:
        self.collection(name).add(obj)
        if self.tracking:
            self.dirty.add((name, obj["id"]))
        return obj

    def changed(self, name: str, obj: Obj) -> Obj:
        """Record that ``obj`` was modified in place (so a state file writes it again)."""
        if self.tracking:
            self.dirty.add((name, obj["id"]))
        return obj

    def remove(self, name: str, object_id: str) -> Obj | None:
        found = self.collection(name).remove(object_id)
        if found is not None and self.tracking:
            self.dirty.discard((name, object_id))
            self.deleted.add((name, object_id))
        return found


class Store:
    """Accounts by id; the platform account is ``""``."""

    def __init__(self, tracking: bool = False) -> None:
        self.accounts: dict[str, Account] = {}
        self.tracking = tracking

    def account(self, account_id: str) -> Account:
        found = self.accounts.get(account_id)
        if found is None:
            found = self.accounts[account_id] = Account(account_id, self.tracking)
        return found

    def find(self, name: str, object_id: str) -> tuple[Account, Obj] | None:
        """Find an object in any account (used by the emulator's own controls)."""
        for account in self.accounts.values():
            obj = account.get(name, object_id)
            if obj is not None:
                return account, obj
        return None
