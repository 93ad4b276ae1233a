"""What one complete sale costs the backend, counted rather than timed: Stripe calls, database
transactions and SQL statements, and webhook deliveries, per flow.

Counts do not depend on how busy the machine is, so they compare versions of the backend exactly
where the timings of `backend_bench.py` wobble. The whole stack runs in this process (the emulator
on a thread, the backend under uvicorn on the loop, as the integration tests run it); a till
follows its location's live event stream, as the POS does, and rings up sales one at a time on a
reader that taps a good card at once.

    .venv/bin/python bench/flow_counts.py --sales 50 [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.backend.stack import ADMIN, running_backend

from countertop.backend.store import direct
from countertop.backend.stripe_gateway import StripeGateway
from countertop.emulator.server import EmulatorServer

Json = dict[str, Any]


class Counts:
    def __init__(self) -> None:
        self.stripe: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self.transactions = 0

    def clear(self) -> None:
        self.stripe.clear()
        self.statements.clear()
        self.transactions = 0


COUNTS = Counts()
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def instrument() -> None:
    """Count every Stripe call the gateway makes and every transaction and statement."""
    for name, method in list(vars(StripeGateway).items()):
        if name.startswith("_") or not asyncio.iscoroutinefunction(method):
            continue

        def counted(method: Callable[..., Awaitable[Any]] = method, name: str = name) -> Any:
            async def call(*args: Any, **kwargs: Any) -> Any:
                COUNTS.stripe[name] += 1
                return await method(*args, **kwargs)

            return call

        setattr(StripeGateway, name, counted())

    def count(sql: str) -> None:
        verb = sql.split(None, 1)[0].upper()
        table = _TABLE.search(sql)
        COUNTS.statements[f"{verb} {table.group(1) if table else ''}".strip()] += 1

    @event.listens_for(Engine, "before_cursor_execute")
    def statement(*args: Any) -> None:
        count(args[2])

    # The statements run on the driver directly (store/direct.py), and their transactions.
    direct_run = direct.Lane.run

    async def run_direct(self: direct.Lane, plan: direct.Plan, arguments: list[Any]) -> Any:
        count(plan.sql)
        return await direct_run(self, plan, arguments)

    direct.Lane.run = run_direct  # type: ignore[method-assign]
    direct_writes = direct.Lane.run_writes

    async def run_writes(self: direct.Lane, writes: list[tuple[direct.Plan, list[Any]]]) -> None:
        COUNTS.statements["(writes held back, sent together)"] += 1
        await direct_writes(self, writes)

    direct.Lane.run_writes = run_writes  # type: ignore[method-assign]
    fused_send = direct.Fused.send

    async def send_fused(self: direct.Fused) -> bool:
        COUNTS.statements["(one change as one statement)"] += 1
        return await fused_send(self)

    direct.Fused.send = send_fused  # type: ignore[method-assign]
    write_then_read = direct.Connection.write_then_read

    async def joined(self: direct.Connection, *args: Any) -> Any:
        if self.joins_write_and_read:
            COUNTS.statements["(a write and a read as one statement)"] += 1
        return await write_then_read(self, *args)

    direct.Connection.write_then_read = joined  # type: ignore[method-assign]
    direct_begin = direct.Lanes.begin

    def begin_direct(self: direct.Lanes) -> Any:
        COUNTS.transactions += 1
        return direct_begin(self)

    direct.Lanes.begin = begin_direct  # type: ignore[method-assign]

    opened_session = AsyncSession.__init__
    opened_engine = AsyncEngine.begin

    def session(self: AsyncSession, *args: Any, **kwargs: Any) -> None:
        COUNTS.transactions += 1
        opened_session(self, *args, **kwargs)

    def engine_begin(self: AsyncEngine, *args: Any, **kwargs: Any) -> Any:
        COUNTS.transactions += 1
        return opened_engine(self, *args, **kwargs)

    AsyncSession.__init__ = session  # type: ignore[method-assign]
    AsyncEngine.begin = engine_begin  # type: ignore[method-assign]


async def sell(admin: httpx.AsyncClient, location: str, reader: str, paid: dict[str, Any]) -> None:
    created = await admin.post(
        "/api/orders", json={"location": location, "currency": "usd", "amount": 1234}
    )
    created.raise_for_status()
    order = created.json()["id"]
    paid[order] = asyncio.get_running_loop().create_future()
    started = await admin.post(f"/api/orders/{order}/payments", json={"reader": reader})
    started.raise_for_status()
    await asyncio.wait_for(paid[order], 30)


async def follow(
    admin: httpx.AsyncClient, location: str, ready: asyncio.Event, paid: dict[str, Any]
) -> None:
    async with admin.stream("GET", f"/api/locations/{location}/events", timeout=None) as stream:
        ready.set()
        name = None
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "order":
                order = json.loads(line[6:])
                waiting = paid.get(order["id"])
                if order["status"] == "paid" and waiting is not None and not waiting.done():
                    waiting.set_result(None)


async def measure(sales: int, database_url: str) -> Json:
    emulator = EmulatorServer().start()
    try:
        # The production sweep interval and grace, not the integration tests' short ones.
        production = {
            "COUNTERTOP_SWEEP_INTERVAL": "5",
            "COUNTERTOP_WEBHOOK_GRACE": "10",
            "COUNTERTOP_LOG_LEVEL": "WARNING",
        }
        async with running_backend(database_url, emulator, **production) as backend:
            demo = backend.demo
            reader = demo.reader_ids[0]
            async with httpx.AsyncClient(base_url=emulator.url) as controls:
                answer = await controls.post(
                    f"/_emulator/readers/{reader}/auto_present", json={"after_ms": 0}
                )
                answer.raise_for_status()
            async with backend.client(ADMIN) as admin:
                ready, paid = asyncio.Event(), {}
                follower = asyncio.create_task(follow(admin, demo.location_id, ready, paid))
                await ready.wait()
                await sell(admin, demo.location_id, reader, paid)  # warm-up
                await asyncio.sleep(1.0)
                async with httpx.AsyncClient(base_url=emulator.url) as controls:
                    sent = (await controls.get("/_emulator/webhooks/deliveries")).json()
                before = len(sent["deliveries"])
                COUNTS.clear()
                for _ in range(sales):
                    await sell(admin, demo.location_id, reader, paid)
                await asyncio.sleep(1.0)  # the last sale's late webhooks and sweeps
                counts = (COUNTS.stripe.copy(), COUNTS.statements.copy(), COUNTS.transactions)
                async with httpx.AsyncClient(base_url=emulator.url) as controls:
                    log = (await controls.get("/_emulator/webhooks/deliveries")).json()
                deliveries = Counter(d["type"] for d in log["deliveries"][before:])
                follower.cancel()
    finally:
        emulator.stop()
    stripe, statements, transactions = counts

    def per(value: float) -> float:
        return round(value / sales, 2)

    return {
        "sales": sales,
        "stripe_calls_per_sale": per(sum(stripe.values())),
        "stripe_calls": {k: per(v) for k, v in stripe.most_common()},
        "transactions_per_sale": per(transactions),
        "statements_per_sale": per(sum(statements.values())),
        "statements": {k: per(v) for k, v in statements.most_common()},
        "webhooks_per_sale": per(sum(deliveries.values())),
        "webhooks": {k: per(v) for k, v in deliveries.most_common()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=50)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    instrument()
    with tempfile.TemporaryDirectory(prefix="ct-counts-") as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'counts.db'}"
        print(json.dumps(asyncio.run(measure(args.sales, url)), indent=2))


if __name__ == "__main__":
    main()
