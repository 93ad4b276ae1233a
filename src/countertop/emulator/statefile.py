"""``--state FILE``: the store written through to SQLite, so it survives restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from countertop.emulator.store import Store

_SCHEMA = """
create table if not exists objects (
    account text not null,
    collection text not null,
    id text not null,
    position integer not null,
    body blob not null,
    primary key (account, collection, id)
)
"""


class StateFile:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=normal")
        self.db.execute(_SCHEMA)

    def load(self, store: Store) -> None:
        rows = self.db.execute(
            "select account, collection, body from objects order by position"
        ).fetchall()
        for account_id, collection, body in rows:
            store.account(account_id).collection(collection).add(orjson.loads(body))

    def save(self, store: Store) -> None:
        """Write every object changed or deleted since the last save."""
        upserts: list[tuple[str, str, str, int, bytes]] = []
        deletes: list[tuple[str, str, str]] = []
        for account in store.accounts.values():
            if account.dirty:
                for name, object_id in account.dirty:
                    collection = account.collection(name)
                    obj = collection.get(object_id)
                    if obj is not None:
                        position = collection.position[object_id]
                        upserts.append((account.id, name, object_id, position, orjson.dumps(obj)))
                account.dirty.clear()
            if account.deleted:
                deletes.extend((account.id, name, object_id) for name, object_id in account.deleted)
                account.deleted.clear()
        if not upserts and not deletes:
            return
        with self.db:
            self.db.execute("begin")
            if upserts:
                self.db.executemany(
                    "insert or replace into objects values (?, ?, ?, ?, ?)", upserts
                )
            if deletes:
                self.db.executemany(
                    "delete from objects where account = ? and collection = ? and id = ?",
                    deletes,
                )

    def wipe(self) -> None:
        self.db.execute("delete from objects")

    def close(self) -> None:
        self.db.close()
