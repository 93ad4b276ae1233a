"""Crash recovery: the backend (`countertop serve`, its own process) is killed with SIGKILL at
random points of the sales going through it, many times, and started again; Stripe (the emulator,
running apart so its state outlives the backend) keeps its state. Afterwards the same invariants
as the chaos run hold: nothing charged twice, no sale lost, nothing left authorized or stuck.

Cards are tapped by the readers themselves (the emulator's auto-present), so payments go on while
the backend is down; its webhooks then fail and the sweeps of the restarted backend catch up.

    .venv/bin/python -m bench.crash --kills 50 --sales 300
    .venv/bin/python -m bench.crash --kills 50 --database-url postgresql://postgres@127.0.0.1/ct_crash
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench.chaos import settle
from bench.invariants import Verdict, check, read_orders, read_stripe
from bench.sales import GOOD_CARD, Till, TillStats, run_tills

from countertop.emulator.server import EmulatorServer

ADMIN = "admin-" + secrets.token_urlsafe(16)
OPERATOR = "till-" + secrets.token_urlsafe(16)
COUNTERTOP = Path(sys.executable).with_name("countertop")
MID_SALE_WAIT = 10.0


@dataclass
class CrashConfig:
    kills: int = 10
    sales: int = 60
    tills: int = 4
    seed: int = 1
    database_url: str | None = None
    settle_seconds: float = 90.0


@dataclass
class CrashReport:
    config: CrashConfig
    kills: int = 0
    # Kills that landed while a sale was open (started by its till and not yet ended).
    kills_mid_sale: int = 0
    restarts: int = 0
    tills: TillStats = field(default_factory=TillStats)
    verdict: Verdict = field(default_factory=Verdict)
    seconds: float = 0.0

    def text(self) -> str:
        lines = [
            f"crash run: {self.config.sales} sales, {self.config.tills} tills, "
            f"{self.kills} SIGKILLs ({self.kills_mid_sale} mid-sale) and {self.restarts} "
            f"restarts in {self.seconds:.1f} s, "
            f"seed {self.config.seed}",
            "till outcomes:",
            *(f"  {k}: {v}" for k, v in sorted(self.tills.outcomes.items())),
            "error answers the tills met:",
            *(f"  {k}: {v}" for k, v in sorted(self.tills.answers.items())),
            "state at the end:",
            *self.verdict.lines(),
            "RESULT: " + ("all invariants hold" if self.verdict.ok else "INVARIANTS VIOLATED"),
        ]
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BackendProcess:
    """`countertop serve` on a fixed port, started and SIGKILLed at will."""

    def __init__(self, database_url: str, stripe: EmulatorServer, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "STRIPE_SECRET_KEY": stripe.secret_key,
            "STRIPE_API_BASE": stripe.url,
            "COUNTERTOP_EMULATOR": "1",
            "COUNTERTOP_PUBLIC_URL": self.url,
            "COUNTERTOP_ADMIN_CREDENTIAL": ADMIN,
            "COUNTERTOP_OPERATOR_CREDENTIAL": OPERATOR,
            "COUNTERTOP_SWEEP_INTERVAL": "0.5",
            "COUNTERTOP_WEBHOOK_GRACE": "1.0",
            "COUNTERTOP_READER_ACTION_TIMEOUT": "8",
            "COUNTERTOP_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(COUNTERTOP), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the backend exited; see {self.log}")
                try:
                    ready = await http.get(self.url + "/api/readers", headers=bearer(OPERATOR))
                    if ready.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the backend did not start; see {self.log}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def killer(
    backend: BackendProcess, report: CrashReport, rng: random.Random, tills: TillStats
) -> None:
    """SIGKILL the backend at random moments of open sales, then start it again, `kills` times.

    How long a sale takes depends on the machine, so a kill waits a random while and then for a
    sale to be open (at most `MID_SALE_WAIT` seconds: once the tills are done, it kills anyway).
    """
    loop = asyncio.get_running_loop()
    for _ in range(report.config.kills):
        await asyncio.sleep(rng.uniform(0.1, 1.0))
        give_up = loop.time() + MID_SALE_WAIT
        while tills.open_sales == 0 and loop.time() < give_up:
            await asyncio.sleep(0.005)
        await asyncio.sleep(rng.uniform(0.0, 0.05))  # somewhere inside the sale
        backend.kill()
        report.kills += 1
        report.kills_mid_sale += tills.open_sales > 0
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        await backend.start()
        report.restarts += 1


async def demo_store(url: str) -> tuple[str, list[str]]:
    async with httpx.AsyncClient(base_url=url, headers=bearer(ADMIN), timeout=10) as http:
        location = (await http.get("/api/locations")).json()["data"][0]["id"]
        readers = (await http.get("/api/readers", params={"location": location})).json()["data"]
    return location, [r["id"] for r in readers]


async def run(config: CrashConfig, database_url: str, workdir: Path) -> CrashReport:
    report = CrashReport(config)
    rng = random.Random(config.seed)
    started = time.monotonic()
    with EmulatorServer() as stripe:
        stripe.emulator.configure_webhooks(retry_base_ms=100, max_attempts=4)
        backend = BackendProcess(database_url, stripe, workdir / "backend.log")
        try:
            await backend.start()
            location, readers = await demo_store(backend.url)
            readers = (readers * config.tills)[: config.tills]
            for reader in set(readers):
                stripe.emulator.set_auto_present(reader, rng.randint(50, 600), number=GOOD_CARD)
            async with (
                httpx.AsyncClient(
                    base_url=backend.url, headers=bearer(OPERATOR), timeout=10
                ) as http,
                httpx.AsyncClient(
                    base_url=stripe.url, headers=bearer(stripe.secret_key)
                ) as customer,
            ):
                shared = TillStats()
                tills = [
                    Till(http, customer, location, reader, random.Random(rng.random()),
                         decline_rate=0.0, deadline=25.0, stats=shared)
                    for reader in sorted(set(readers))
                ]  # fmt: skip
                chaos = asyncio.create_task(killer(backend, report, rng, shared))
                report.tills = await run_tills(tills, config.sales)
                await chaos
            await settle(database_url, config.settle_seconds)
            intents, charges = await asyncio.to_thread(read_stripe, stripe.url, stripe.secret_key)
            orders = await read_orders(database_url)
        finally:
            backend.stop()
    report.seconds = time.monotonic() - started
    report.verdict = check(intents, charges, orders)
    return report


@contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


async def main_async(config: CrashConfig) -> CrashReport:
    with workspace() as folder:
        url = config.database_url or f"sqlite+aiosqlite:///{folder / 'crash.db'}"
        return await run(config, url, folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=CrashConfig.kills)
    parser.add_argument("--sales", type=int, default=CrashConfig.sales)
    parser.add_argument("--tills", type=int, default=CrashConfig.tills)
    parser.add_argument("--seed", type=int, default=CrashConfig.seed)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args(argv)
    config = CrashConfig(args.kills, args.sales, args.tills, args.seed, args.database_url)
    report = asyncio.run(main_async(config))
    print(report.text())
    return 0 if report.verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
