"""What `countertop doctor` asks the outside world, each behind a short timeout and replaceable
in tests: DNS, an HTTP answer, PyPI's newest release, Stripe (through the gateway), our holds."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Protocol

import httpx

from countertop.backend.settings import Settings
from countertop.backend.store.db import Database
from countertop.backend.stripe_gateway import StripeGateway


class StripeProbe(Protocol):
    """What doctor asks Stripe (through the gateway): endpoints and readers, as API dicts."""

    async def list_webhook_endpoints(self) -> Sequence[Mapping[str, Any]]: ...

    async def list_readers(self) -> Sequence[Mapping[str, Any]]: ...


Resolver = Callable[[str], Awaitable[list[str]]]
HttpProbe = Callable[[str, float], Awaitable[int]]
LatestRelease = Callable[[str, float], Awaitable[str | None]]
StuckSince = Callable[[Settings], Awaitable[dict[str, float]]]


async def system_resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def http_status(url: str, timeout: float) -> int:
    async with httpx.AsyncClient(timeout=timeout) as client:
        return (await client.get(url)).status_code


async def pip_latest(package: str, timeout: float) -> str | None:
    """The newest release pip can see, or None when the index cannot be reached in time."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pip", "index", "versions", package),
        *("--timeout", str(max(1, int(timeout))), "--retries", "0"),
        "--disable-pip-version-check",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    found = re.search(rf"^{re.escape(package)} \(([^)]+)\)", out.decode(), re.MULTILINE)
    return found.group(1) if found else None


async def database_holds(settings: Settings) -> dict[str, float]:
    """Reader id -> seconds since a payment of ours took it (from the reader holds table)."""
    from sqlalchemy import select

    from countertop.backend.store.payments import ReaderHoldRow

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            rows = (await session.execute(select(ReaderHoldRow))).scalars().all()
    except Exception:
        return {}
    finally:
        await db.dispose()
    now = datetime.now(UTC)
    return {row.reader_id: (now - row.created_at).total_seconds() for row in rows}


@dataclass
class Probes:
    resolve: Resolver = system_resolve
    http: HttpProbe = http_status
    latest_release: LatestRelease = pip_latest
    stripe: Callable[[Settings], StripeProbe] | None = StripeGateway
    # reader id -> seconds its current payment has held it, from our database.
    holds: StuckSince = database_holds
    installed: Callable[[str], str] = field(default=metadata.version)
