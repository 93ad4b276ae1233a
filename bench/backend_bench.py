"""Backend throughput: complete payment flows per second, and webhook ingestion per second.

Flows: each till owns a simulated reader that presents a good card as soon as a payment reaches it
(the emulator's auto-present, zero latency). A till creates an order, starts its payment on the
reader and waits for the order to be `paid` (seen on the location's live event stream, as the POS
sees it); the card tap, the webhooks (signed, verified, stored, applied), the capture from the
outbox and the live events all happen in between. Flows/s counts sales completed in the window.

Webhooks: the events Stripe sent during the flows are re-sent to `/webhooks/stripe`, each under a
fresh id and signed with the endpoint's secret (cycling through them until `--events` are sent),
one in ten sent twice; every one is verified, deduplicated by id and applied to its payment
attempt. The requests are built and signed before the clock starts and sent over keep-alive
connections by a minimal HTTP client, so the client costs little of the machine the backend runs
on.

    .venv/bin/python bench/backend_bench.py --database both --seconds 20 --tills 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backend_stack import (
    Stack,
    cpu_seconds,
    machine_busy_seconds,
    named_cpu_seconds,
    running_stack,
)
from history import write_history

AMOUNT = 1000  # ends in 00: no test-network decline


@dataclass
class FlowResult:
    backend_cpu: float = 0.0
    emulator_cpu: float = 0.0
    tills_cpu: float = 0.0
    database_cpu: float = 0.0
    machine_cpu: float = 0.0
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0


@dataclass
class WebhookResult:
    backend_cpu: float = 0.0
    reconnects: int = 0
    sent: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


# --- setting up a store: a location and one simulated reader per till ------------------------


async def set_up_store(stack: Stack, tills: int) -> tuple[str, list[str]]:
    admin = {"Authorization": f"Bearer {stack.admin_credential}"}
    async with httpx.AsyncClient(base_url=stack.backend_url, headers=admin, timeout=30) as http:
        address = {"line1": "1 Bench St", "city": "Austin", "state": "TX",
                   "postal_code": "78701", "country": "US"}  # fmt: skip
        created = await http.post(
            "/api/locations", json={"display_name": "Bench", "address": address}
        )
        created.raise_for_status()
        location = created.json()["id"]
        readers = []
        for n in range(tills):
            body = {
                "registration_code": "simulated-wpe",
                "label": f"Till {n}",
                "location": location,
            }
            reader = await http.post("/api/readers", json=body)
            reader.raise_for_status()
            readers.append(reader.json()["id"])
    async with httpx.AsyncClient(base_url=stack.emulator_url, timeout=30) as emulator:
        for reader_id in readers:
            answer = await emulator.post(
                f"/_emulator/readers/{reader_id}/auto_present", json={"after_ms": 0}
            )
            answer.raise_for_status()
    return location, readers


# --- flows -----------------------------------------------------------------------------------


class HttpError(Exception):
    """A non-2xx answer from the backend."""


Headers = dict[bytes, bytes]


class Connection:
    """A minimal HTTP/1.1 client on one keep-alive connection to the backend, reopened when the
    server has closed it (like the webhook sender: the tills cost little of the machine)."""

    def __init__(self, url: str, credential: str) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.headers = f"Host: {self.host}:{port}\r\nAuthorization: Bearer {credential}\r\n"
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None

    async def send(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[asyncio.StreamReader, int, Headers]:
        """Send a request; the reader (at the response's body), status and headers (lower case)."""
        if self.streams is None or self.streams[0].at_eof():
            self.close()
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        head = f"{method} {path} HTTP/1.1\r\n{self.headers}"
        if body is None:
            writer.write(f"{head}\r\n".encode())
        else:
            content = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            writer.write(f"{head}{content}".encode() + body)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n"))[:-4].split(b"\r\n")
        headers: Headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        return reader, int(status_line.split(b" ", 2)[1]), headers

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST JSON; the decoded JSON answer, or HttpError for a non-2xx status."""
        try:
            async with asyncio.timeout(30):
                reader, status, headers = await self.send("POST", path, orjson.dumps(payload))
                body = await read_body(reader, headers)
        except BaseException:
            self.close()  # the connection is in an unknown state
            raise
        if headers.get(b"connection") == b"close":
            self.close()
        if not 200 <= status < 300:
            raise HttpError(f"POST {path}: {status} {body.decode(errors='replace')}")
        return orjson.loads(body)


async def read_body(reader: asyncio.StreamReader, headers: Headers) -> bytes:
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        return b"".join([chunk async for chunk in chunks(reader)])
    return await reader.readexactly(int(headers.get(b"content-length", 0)))


async def chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The chunks of a chunked body, as they arrive, up to the last one (and its trailers)."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return
        chunk = await reader.readexactly(size + 2)
        yield chunk[:-2]


class PaidWatcher:
    """Follows the location's event stream and resolves a future when an order becomes paid."""

    def __init__(self, connection: Connection, location: str) -> None:
        self.connection = connection
        self.path = f"/api/locations/{location}/events"
        self.waiting: dict[str, asyncio.Future[None]] = {}

    def expect(self, order_id: str) -> asyncio.Future[None]:
        future = self.waiting.get(order_id)
        if future is None:
            future = self.waiting[order_id] = asyncio.get_running_loop().create_future()
        return future

    async def open(self) -> asyncio.StreamReader:
        """Open the stream; the reader at its (chunked) body."""
        reader, status, headers = await self.connection.send("GET", self.path)
        if status != 200:
            body = await read_body(reader, headers)
            raise HttpError(f"GET {self.path}: {status} {body.decode(errors='replace')}")
        return reader

    async def follow(self, reader: asyncio.StreamReader) -> None:
        """Read the stream from `open` as it arrives; reopen it when it ends or drops."""
        while True:
            buffer = b""
            with contextlib.suppress(OSError, EOFError):
                async for chunk in chunks(reader):
                    buffer += chunk
                    *events, buffer = buffer.split(b"\n\n")
                    for event in events:
                        if b'"paid"' in event:  # only candidates are parsed
                            self.saw(event)
            print("  event stream ended; reopening", file=sys.stderr)
            self.connection.close()
            reader = await self.open()

    def saw(self, event: bytes) -> None:
        """One event (`event:` and `data:` lines): resolve the order's future if it is now paid."""
        name, data = b"message", []
        for line in event.split(b"\n"):
            field, _, value = line.partition(b":")  # comment lines have no field name
            if field == b"event":
                name = value.strip()
            elif field == b"data":
                data.append(value.removeprefix(b" "))
        if name == b"order":
            order = orjson.loads(b"\n".join(data))
            if order["status"] == "paid":
                future = self.expect(order["id"])
                if not future.done():
                    future.set_result(None)


async def till(
    http: Connection, watcher: PaidWatcher, location: str, reader: str,
    start: float, end: float, result: FlowResult,
) -> None:  # fmt: skip
    order_body = {"location": location, "currency": "usd", "amount": AMOUNT}
    while time.perf_counter() < end:
        began = time.perf_counter()
        try:
            order_id = (await http.post("/api/orders", order_body))["id"]
            paid = watcher.expect(order_id)
            await http.post(f"/api/orders/{order_id}/payments", {"reader": reader})
            await asyncio.wait_for(paid, 30)
        except (HttpError, OSError, EOFError, TimeoutError) as error:
            result.failed += 1
            print(f"  flow failed on {reader}: {error!r}", file=sys.stderr)
            continue
        finished = time.perf_counter()
        if start <= began and finished <= end:
            result.completed += 1
            result.latencies.append(finished - began)


async def run_flows(
    stack: Stack, location: str, readers: list[str], seconds: float, warmup: float
) -> FlowResult:
    tills = [Connection(stack.backend_url, stack.admin_credential) for _ in readers]
    watcher = PaidWatcher(Connection(stack.backend_url, stack.admin_credential), location)
    try:
        follower = asyncio.create_task(watcher.follow(await watcher.open()))
        start = time.perf_counter() + warmup
        end = start + seconds
        result = FlowResult(seconds=seconds)
        await asyncio.gather(
            measure_cpu(stack, start, end, result),
            *(
                till(http, watcher, location, r, start, end, result)
                for http, r in zip(tills, readers, strict=True)
            ),
        )
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    finally:
        for connection in [*tills, watcher.connection]:
            connection.close()
    return result


async def measure_cpu(stack: Stack, start: float, end: float, result: FlowResult) -> None:
    """CPU spent in the window by the backend, the emulator, the tills (this process), the
    PostgreSQL server and the whole machine: the cost of a flow, less dependent on the load."""

    def readings() -> tuple[float, ...]:
        return (
            cpu_seconds(stack.backend_pid),
            cpu_seconds(stack.emulator_pid),
            time.process_time(),
            named_cpu_seconds("postgres"),
            machine_busy_seconds(),
        )

    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    before = readings()
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    used = [after - began for after, began in zip(readings(), before, strict=True)]
    result.backend_cpu, result.emulator_cpu, result.tills_cpu = used[:3]
    result.database_cpu, result.machine_cpu = used[3:]


# --- webhooks --------------------------------------------------------------------------------


async def stripe_events(stack: Stack, limit: int) -> list[dict[str, Any]]:
    """The events the emulator created during the flows (newest first), up to `limit`."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    headers = {"Authorization": "Bearer sk_test_backend_bench"}
    async with httpx.AsyncClient(base_url=stack.emulator_url, headers=headers, timeout=30) as http:
        while len(events) < limit:
            page = (await http.get("/v1/events", params=params)).json()
            events.extend(page["data"])
            if not page["has_more"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
    return events[:limit]


def signed_requests(events: list[dict[str, Any]], secret: str, host: str) -> list[bytes]:
    """One HTTP/1.1 request per delivery: each event under a fresh id, every tenth sent twice."""
    now = int(time.time())
    requests: list[bytes] = []
    for n, event in enumerate(events):
        body = json.dumps({**event, "id": f"evt_bench{n:08d}", "created": now}).encode()
        signature = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
        request = (
            f"POST /webhooks/stripe HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Stripe-Signature: t={now},v1={signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        requests.append(request)
        if n % 10 == 9:
            requests.append(requests[-2])  # a duplicate delivery of the previous event
    return requests


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request on a keep-alive connection; the response's status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def send_all(url: str, requests: list[bytes], connections: int) -> WebhookResult:
    host, port = url.removeprefix("http://").split(":")
    queue = iter(requests)
    result = WebhookResult()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for request in queue:
                try:
                    status = await exchange(reader, writer, request)
                except (ConnectionError, asyncio.IncompleteReadError):
                    # The server closed the connection: deliver again, as Stripe would.
                    result.reconnects += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    status = await exchange(reader, writer, request)
                result.statuses[status] += 1
                result.sent += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    result.seconds = time.perf_counter() - began
    return result


# --- the run ---------------------------------------------------------------------------------


@contextlib.contextmanager
def profiled(stack: Stack, out: Path | None, name: str, rate: int = 100) -> Iterator[None]:
    """With `out`, sample the backend process with py-spy meanwhile (collapsed stacks)."""
    if out is None:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(stack.backend_pid), "--format", "raw",
               "--rate", str(rate), "--nonblocking", "--gil", "--output", str(out / f"{name}.txt")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def reference_loop_ms() -> float:
    """CPU time of a fixed pure-Python loop (best of three): how fast this machine is right now.

    Shared VMs change speed from minute to minute (a fixed loop has taken 0.52 s and 0.79 s a few
    seconds apart); a run's figures are comparable with another's only at a similar reading.
    """
    best = float("inf")
    for _ in range(3):
        began = time.process_time()
        total = 0
        for n in range(1_000_000):
            total += n * n % 7
        best = min(best, time.process_time() - began)
    return round(best * 1000, 1)


async def bench_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    reference_before = reference_loop_ms()
    with running_stack(kind, args.log_level, args.workers) as stack:
        location, readers = await set_up_store(stack, args.tills)
        if args.history:
            took = await write_history(stack.database, args.history, location, readers)
            print(f"# {args.history} past sales written in {took:.1f} s", flush=True)
        with profiled(stack, args.profile, f"{kind}-flows", args.profile_rate):
            flows = await run_flows(stack, location, readers, args.seconds, args.warmup)
        await asyncio.sleep(2)  # let the last deliveries land
        events = await stripe_events(stack, args.events)
        # Fewer events than asked for: each is sent again (under a fresh id, like the others).
        events = [events[n % len(events)] for n in range(args.events)] if events else []
        requests = signed_requests(
            events, stack.webhook_secret, stack.backend_url.removeprefix("http://")
        )
        backend_cpu = cpu_seconds(stack.backend_pid)
        with profiled(stack, args.profile, f"{kind}-webhooks", args.profile_rate):
            webhooks = await send_all(stack.backend_url, requests, args.connections)
        webhooks.backend_cpu = cpu_seconds(stack.backend_pid) - backend_cpu
        if args.logs is not None:  # the processes' logs outlive the run's scratch directory
            shutil.copytree(stack.logs, args.logs / kind, dirs_exist_ok=True)
    latencies = sorted(flows.latencies) or [0.0]
    return {
        "database": kind,
        "workers": args.workers,
        "tills": args.tills,
        "flows_per_second": round(flows.per_second, 1),
        "flows_completed": flows.completed,
        "flows_failed": flows.failed,
        "flow_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "flow_p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
        "backend_cpu_ms_per_flow": per(flows.backend_cpu, flows.completed),
        "emulator_cpu_ms_per_flow": per(flows.emulator_cpu, flows.completed),
        "tills_cpu_ms_per_flow": per(flows.tills_cpu, flows.completed),
        "postgres_cpu_ms_per_flow": per(flows.database_cpu, flows.completed),
        "machine_cpu_ms_per_flow": per(flows.machine_cpu, flows.completed),
        "webhook_events_per_second": round(webhooks.per_second, 1),
        "backend_cpu_ms_per_event": per(webhooks.backend_cpu, webhooks.sent),
        "webhook_deliveries": webhooks.sent,
        "webhook_statuses": dict(webhooks.statuses),
        "webhook_reconnects": webhooks.reconnects,
        "reference_loop_ms": [reference_before, reference_loop_ms()],
    }


def per(cpu_seconds: float, count: int) -> float | None:
    return round(cpu_seconds * 1000 / count, 2) if count else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window of the flows")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--tills", type=int, default=16, help="concurrent tills (one reader each)")
    parser.add_argument(
        "--workers", type=int, default=1, help="backend worker processes (PostgreSQL only)"
    )
    parser.add_argument(
        "--events", type=int, default=10_000, help="distinct webhook events to send"
    )
    parser.add_argument(
        "--history", type=int, default=20_000,
        help="past sales in the database before the run (bench/history.py)",
    )  # fmt: skip
    parser.add_argument("--connections", type=int, default=16, help="webhook sender connections")
    parser.add_argument("--log-level", default="INFO", help="the backend's COUNTERTOP_LOG_LEVEL")
    parser.add_argument("--profile", type=Path, help="write py-spy samples of the backend here")
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples a second")
    parser.add_argument("--logs", type=Path, help="keep the backend's and emulator's logs here")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    cpu = platform.processor() or platform.machine()
    print(f"# {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}")
    for kind in kinds:
        print(f"# load average before {kind}: {os.getloadavg()}", flush=True)
        print(json.dumps(asyncio.run(bench_one(kind, args))), flush=True)


if __name__ == "__main__":
    main()
