"""Chaos run: many tills over many simulated readers ring up complete sales through the backend's
HTTP API while the emulator injects faults, then the invariants are checked against Stripe's state.

Faults, each counted when it actually hits:
- API: 5xx answers without doing the work, answers dropped after the work was done, latency;
- readers: going offline for a while, busy, `terminal_reader_timeout` (delivered or not);
- webhooks: dropped, duplicated, delayed, reordered;
- declines: some customers first tap a declining card, then a good one.

After the sales, the faults stop, the sweeps get to finish their work, and bench/invariants.py
checks every captured charge against the orders.

    .venv/bin/python -m bench.chaos --sales 10000 --tills 16 --fault-rate 0.05
    .venv/bin/python -m bench.chaos --sales 2000 --database-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from bench.invariants import NOT_FINAL, Verdict, check, read_orders, read_stripe
from bench.sales import Till, TillStats, run_tills

from countertop.backend.app import create_app
from countertop.backend.settings import Settings
from countertop.emulator.emulator import Emulator
from countertop.emulator.server import EmulatorServer

ADMIN = "admin-" + secrets.token_urlsafe(16)
OPERATOR = "till-" + secrets.token_urlsafe(16)
# The Stripe calls a sale makes, by method and path glob.
FAULTED_CALLS = (
    ("POST", "/v1/payment_intents"),
    ("POST", "/v1/payment_intents/*"),
    ("GET", "/v1/payment_intents/*"),
    ("POST", "/v1/terminal/readers/*/*"),
    ("GET", "/v1/terminal/readers/*"),
)


@dataclass
class ChaosConfig:
    sales: int = 100
    tills: int = 8
    fault_rate: float = 0.05
    seed: int = 1
    database_url: str | None = None
    settle_seconds: float = 120.0
    sale_deadline: float = 30.0
    decline_rate: float = 0.1


@dataclass
class Report:
    config: ChaosConfig
    faults: Counter[str] = field(default_factory=Counter)
    tills: TillStats = field(default_factory=TillStats)
    verdict: Verdict = field(default_factory=Verdict)
    seconds: float = 0.0
    settle_seconds: float = 0.0

    def text(self) -> str:
        calls = self.faults["api calls"]
        hit = sum(v for k, v in self.faults.items() if k.startswith("api ") and k != "api calls")
        lines = [
            f"chaos run: {self.config.sales} sales, {self.config.tills} tills and readers, "
            f"fault rate {self.config.fault_rate}, seed {self.config.seed}",
            f"  sales took {self.seconds:.1f} s; settling {self.settle_seconds:.1f} s",
            "till outcomes:",
            *(f"  {k}: {v}" for k, v in sorted(self.tills.outcomes.items())),
            "cards tapped:",
            *(f"  {k}: {v}" for k, v in sorted(self.tills.taps.items())),
            "error answers the tills met:",
            *(f"  {k}: {v}" for k, v in sorted(self.tills.answers.items())),
            f"faults injected ({hit} of {calls} Stripe API calls, "
            f"{100 * hit / max(calls, 1):.1f}%):",
            *(f"  {k}: {v}" for k, v in sorted(self.faults.items())),
            "state at the end:",
            *self.verdict.lines(),
            "RESULT: " + ("all invariants hold" if self.verdict.ok else "INVARIANTS VIOLATED"),
        ]
        return "\n".join(lines)


def count_faults(emulator: Emulator, faults: Counter[str]) -> None:
    """Count every API call and every fault that hits, by kind (instrumentation of this run)."""
    api = emulator.faults
    take_api = api.take

    def take(method: str, path: str) -> Any:
        faults["api calls"] += 1
        hits = take_api(method, path)
        for hit in hits:
            faults[f"api {hit.kind}"] += 1
        return hits

    api.take = take  # type: ignore[method-assign]
    hooks = emulator.webhooks
    take_webhook = hooks._take_fault

    def take_fault(event_type: str) -> Any:
        fault = take_webhook(event_type)
        if fault is not None:
            faults[f"webhook {fault.kind}"] += 1
        return fault

    hooks._take_fault = take_fault  # type: ignore[method-assign]


def inject_api_faults(emulator: Emulator, rate: float) -> None:
    """About `rate` of the sale's Stripe calls faulted: half errors, 40% lost answers, 10% slow."""
    for method, path in FAULTED_CALLS:
        emulator.add_api_fault("error", method, path, None, rate * 0.5, 500)
        emulator.add_api_fault("drop_response", method, path, None, rate * 0.4)
        emulator.add_api_fault("latency", method, path, None, rate * 0.1, delay_ms=300)


async def reader_chaos(
    emulator: Emulator,
    readers: list[str],
    rate: float,
    faults: Counter[str],
    sales: Counter[str],
    rng: random.Random,
) -> None:
    """Readers dropping off, busy, or timing out mid-payment: about `rate` of sales meet one."""
    while True:
        await asyncio.sleep(rng.uniform(0.05, 0.3))
        injected = sum(v for k, v in faults.items() if k.startswith("reader "))
        if injected >= rate * (sum(sales.values()) + len(readers)):
            continue
        reader = rng.choice(readers)
        kind = rng.choice(["offline", "busy", "timeout", "timeout_delivered"])
        faults[f"reader {kind}"] += 1
        if kind in ("offline", "busy"):
            toggle = emulator.set_reader_offline if kind == "offline" else emulator.set_reader_busy
            toggle(reader, True)
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            toggle(reader, False)
        else:
            emulator.set_reader_timeout(reader, 1, delivered=kind == "timeout_delivered")


async def webhook_chaos(emulator: Emulator, rate: float, rng: random.Random) -> None:
    """Drop, duplicate and delay about `rate` of deliveries each; reorder a few now and then."""
    if rate <= 0:
        return
    emulator.add_webhook_fault("drop", None, rate)
    emulator.add_webhook_fault("duplicate", None, rate)
    emulator.add_webhook_fault("delay", None, rate, delay_ms=1500)
    while True:
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        emulator.add_webhook_fault("reorder", 3)


async def progress(stats: TillStats, faults: Counter[str], sales: int) -> None:
    """A line on stderr every 30 s, so a long run shows it is moving."""
    started = time.monotonic()
    while True:
        await asyncio.sleep(30)
        done = sum(stats.outcomes.values())
        print(
            f"[{time.monotonic() - started:.0f} s] {done}/{sales} sales, "
            f"{faults['api calls']} Stripe calls",
            file=sys.stderr,
            flush=True,
        )


def calm(emulator: Emulator, readers: list[str]) -> None:
    emulator.clear_api_faults()
    emulator.clear_webhook_faults()
    for reader in readers:
        emulator.set_reader_offline(reader, False)
        emulator.set_reader_busy(reader, False)
        emulator.set_reader_timeout(reader, 0)


def backend_settings(database_url: str, stripe: EmulatorServer, port: int) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": stripe.secret_key,
        "STRIPE_API_BASE": stripe.url,
        "COUNTERTOP_EMULATOR": "1",
        "COUNTERTOP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "COUNTERTOP_ADMIN_CREDENTIAL": ADMIN,
        "COUNTERTOP_OPERATOR_CREDENTIAL": OPERATOR,
        "COUNTERTOP_SWEEP_INTERVAL": "0.5",
        "COUNTERTOP_WEBHOOK_GRACE": "1.0",
        "COUNTERTOP_READER_ACTION_TIMEOUT": "8",
        "COUNTERTOP_LOG_LEVEL": "ERROR",
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]


@contextlib.asynccontextmanager
async def serving_backend(database_url: str, stripe: EmulatorServer) -> AsyncIterator[Any]:
    """The backend under uvicorn on a free loopback port, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(backend_settings(database_url, stripe, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def add_readers(url: str, location: str, count: int) -> list[str]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}
    ) as http:
        readers = (await http.get("/api/readers", params={"location": location})).json()["data"]
        ids = [r["id"] for r in readers]
        while len(ids) < count:
            code = "simulated-s700" if len(ids) % 2 else "simulated-wpe"
            body = {
                "registration_code": code,
                "label": f"Till {len(ids) + 1}",
                "location": location,
            }
            created = await http.post("/api/readers", json=body)
            created.raise_for_status()
            ids.append(created.json()["id"])
        return ids[:count]


async def settle(database_url: str, timeout: float) -> float:
    """Wait for the sweeps to bring every order to a final state."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        orders = await read_orders(database_url)
        if not [o for o in orders if o.status in NOT_FINAL]:
            break
        await asyncio.sleep(1.0)
    return time.monotonic() - started


async def run(config: ChaosConfig, database_url: str) -> Report:
    report = Report(config)
    rng = random.Random(config.seed)
    random.seed(config.seed)
    with EmulatorServer() as stripe:
        emulator = stripe.emulator
        emulator.configure_webhooks(retry_base_ms=100, max_attempts=5)
        count_faults(emulator, report.faults)
        async with serving_backend(database_url, stripe) as (app, url):
            location = app.state.demo.location_id
            readers = await add_readers(url, location, config.tills)
            limits = httpx.Limits(max_connections=config.tills * 2)
            async with (
                httpx.AsyncClient(
                    base_url=url,
                    headers={"Authorization": f"Bearer {OPERATOR}"},
                    timeout=30,
                    limits=limits,
                ) as backend,
                httpx.AsyncClient(
                    base_url=stripe.url,
                    headers={"Authorization": f"Bearer {stripe.secret_key}"},
                    timeout=30,
                    limits=limits,
                ) as customer,
            ):
                shared = TillStats()  # one for all tills, so the chaos sees the progress
                tills = [
                    Till(backend, customer, location, reader, random.Random(rng.random()),
                         deadline=config.sale_deadline, decline_rate=config.decline_rate,
                         stats=shared)
                    for reader in readers
                ]  # fmt: skip
                inject_api_faults(emulator, config.fault_rate)
                chaos = [
                    asyncio.create_task(
                        reader_chaos(
                            emulator,
                            readers,
                            config.fault_rate,
                            report.faults,
                            shared.outcomes,
                            rng,
                        )
                    ),
                    asyncio.create_task(webhook_chaos(emulator, config.fault_rate, rng)),
                ]
                chaos.append(asyncio.create_task(progress(shared, report.faults, config.sales)))
                started = time.monotonic()
                try:
                    report.tills = await run_tills(tills, config.sales)
                finally:
                    report.seconds = time.monotonic() - started
                    for task in chaos:
                        task.cancel()
                    await asyncio.gather(*chaos, return_exceptions=True)
                    calm(emulator, readers)
            await emulator.flush_webhooks_async(30)
            report.settle_seconds = await settle(database_url, config.settle_seconds)
            intents, charges = await asyncio.to_thread(read_stripe, stripe.url, stripe.secret_key)
            orders = await read_orders(database_url)
    report.verdict = check(intents, charges, orders)
    return report


async def main_async(config: ChaosConfig) -> Report:
    if config.database_url:
        return await run(config, config.database_url)
    with tempfile.TemporaryDirectory() as folder:
        return await run(config, f"sqlite+aiosqlite:///{Path(folder) / 'chaos.db'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=ChaosConfig.sales)
    parser.add_argument("--tills", type=int, default=ChaosConfig.tills)
    parser.add_argument("--fault-rate", type=float, default=ChaosConfig.fault_rate)
    parser.add_argument("--seed", type=int, default=ChaosConfig.seed)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args(argv)
    config = ChaosConfig(args.sales, args.tills, args.fault_rate, args.seed, args.database_url)
    report = asyncio.run(main_async(config))
    print(report.text())
    return 0 if report.verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
