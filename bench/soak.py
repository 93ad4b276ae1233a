"""Load and soak: many tills ring up complete sales for minutes on end against two backend instances
sharing one PostgreSQL database, to show the error count stays at zero and memory stays flat.

What runs, each in its own process on loopback, configured as in production against Stripe: the
emulator (`countertop emulator`), and two `countertop serve` instances on one fresh PostgreSQL
database, each with STRIPE_SECRET_KEY and STRIPE_API_BASE pointing at the emulator and the webhook
endpoint's signing secret. Stripe sends each event once to each registered endpoint, and a
deployment registers one endpoint behind its load balancer; here that endpoint is instance A's
address, so instance A applies every webhook and PostgreSQL LISTEN/NOTIFY carries the changes to
the tills following instance B.

The tills: one simulated reader each, registered through the admin API of the instance the till
talks to (half on A, half on B), spread over `--locations` locations. The readers present a good
card as soon as a payment reaches them (the emulator's auto-present). Like the POS, each till
follows its location's live event stream (Server-Sent Events) on its instance, and while a sale is
in payment it also re-reads the order every 3 s. A sale: create the order (with an Idempotency-Key),
start its payment on the till's reader, wait until the order is `paid` (first seen on the stream,
or on a re-read), then the next sale at once. Every non-2xx answer, timeout or connection error
counts as an error, and so does a sale that is not paid within `--sale-timeout`.

Every 10 s the run samples the resident memory (VmRSS) and CPU time of both backend processes and
the emulator. The emulator is Stripe here and keeps every object it ever created in memory, so its
memory grows with the sales by design; the flatness verdict is about the backends.

    .venv/bin/python -m bench.soak --tills 100 --minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as `python bench/soak.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backend_stack import (
    API_KEY,
    COUNTERTOP,
    cpu_seconds,
    database,
    free_port,
    stop,
    wait_until_serving,
)
from bench.sales import sale_amount

SAMPLE_SECONDS = 10.0
POLL_SECONDS = 3.0  # the POS re-reads an order in payment this often (till.js)
FLAT_PERCENT = 5.0  # RSS growth after warm-up at or under this is called flat
FAILED_ATTEMPT = ("declined", "failed", "canceled")
ADDRESS = {"line1": "1 Soak St", "city": "Austin", "state": "TX",
           "postal_code": "78701", "country": "US"}  # fmt: skip
INSTANCES = ("backend A", "backend B")
PROCESSES = (*INSTANCES, "emulator")
LOAD = "tills (this process)"


# --- report helpers (pure) -------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` percentile (0 < q <= 100) of `values`; 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats going astray
    return ordered[min(int(rank), len(ordered)) - 1]


def latency_row(name: str, seconds: Sequence[float]) -> str:
    """A markdown row: name, count, p50, p95, p99 and max in milliseconds."""
    cells = [f"{percentile(seconds, q) * 1000:,.1f}" for q in (50, 95, 99, 100)]
    return f"| {name} | {len(seconds):,} | " + " | ".join(cells) + " |"


@dataclass
class Sample:
    """What one sampling tick saw: seconds since the tills started, and per process RSS (kB)
    and CPU seconds used so far; `sales` is the number of sales completed so far."""

    at: float
    sales: int
    rss_kb: dict[str, int]
    cpu: dict[str, float]


@dataclass
class Growth:
    process: str
    start_mb: float
    end_mb: float
    slope_mb_per_min: float

    @property
    def mb(self) -> float:
        return self.end_mb - self.start_mb

    @property
    def percent(self) -> float:
        return 100 * self.mb / self.start_mb if self.start_mb else 0.0

    @property
    def flat(self) -> bool:
        return self.percent <= FLAT_PERCENT


def growth(samples: Sequence[Sample], process: str, since: float) -> Growth:
    """RSS of `process` from the first sample at or after `since` to the last one, and the
    least-squares slope over those samples (MB per minute)."""
    kept = [s for s in samples if s.at >= since] or list(samples[-1:])
    xs = [s.at / 60 for s in kept]
    ys = [s.rss_kb[process] / 1024 for s in kept]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return Growth(process, ys[0], ys[-1], covariance / spread if spread else 0.0)


def table_samples(samples: Sequence[Sample], step: float, since: float) -> list[Sample]:
    """The samples a memory table shows: the first, the first at or after the end of the
    warm-up and then every `step` seconds, and the last."""
    if not samples:
        return []
    shown = [samples[0]]
    target = since
    for sample in samples[1:]:
        if sample.at >= target:
            shown.append(sample)
            while target <= sample.at:
                target += step
    if shown[-1] is not samples[-1]:
        if len(shown) > 1 and samples[-1].at - shown[-1].at < SAMPLE_SECONDS / 2:
            shown.pop()  # a final sample moments after a periodic one stands for both
        shown.append(samples[-1])
    return shown


def memory_table(samples: Sequence[Sample], step: float, since: float) -> list[str]:
    lines = [
        "| minute | sales so far | " + " | ".join(f"{p} RSS MB" for p in PROCESSES) + " |",
        "|---:|---:|" + "---:|" * len(PROCESSES),
    ]
    for sample in table_samples(samples, step, since):
        cells = " | ".join(f"{sample.rss_kb[p] / 1024:,.1f}" for p in PROCESSES)
        lines.append(f"| {sample.at / 60:.1f} | {sample.sales:,} | {cells} |")
    return lines


# --- processes -------------------------------------------------------------------------------


@dataclass
class Stack:
    emulator_url: str
    backend_urls: tuple[str, str]
    admin_credential: str
    pids: dict[str, int]
    logs: Path


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def two_instances(log_level: str, traced: Path | None = None) -> Iterator[Stack]:
    """The emulator and two backend instances on one fresh PostgreSQL database (dropped after)."""
    with tempfile.TemporaryDirectory(prefix="ct-soak-") as tmp:
        workdir = Path(tmp)
        with database("postgres", workdir) as url:
            yield from _processes(url, workdir, log_level, traced)


def _processes(url: str, workdir: Path, log_level: str, traced: Path | None) -> Iterator[Stack]:
    emulator_port, port_a, port_b = free_port(), free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    urls = (f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}")
    webhook_secret = "whsec_" + secrets.token_hex(16)
    admin = "admin-" + secrets.token_urlsafe(16)
    logs = workdir / "logs"
    logs.mkdir()
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_API_BASE": emulator_url,
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "DATABASE_URL": url,
        "COUNTERTOP_ADMIN_CREDENTIAL": admin,
        "COUNTERTOP_SESSION_SECRET": secrets.token_urlsafe(32),  # the same on every instance
        "COUNTERTOP_LOG_LEVEL": log_level,
    }
    env.pop("COUNTERTOP_EMULATOR", None)
    serve = [COUNTERTOP, "serve"]
    if traced is not None:  # the backends under tracemalloc (bench/traced_serve.py)
        traced.mkdir(parents=True, exist_ok=True)
        env["SOAK_TRACEMALLOC_DIR"] = str(traced.resolve())
        serve = [sys.executable, str(Path(__file__).with_name("traced_serve.py")), "serve"]
    # The one webhook endpoint of the deployment: instance A (see the module's docstring).
    emulator_cmd = [
        COUNTERTOP, "emulator", "--port", str(emulator_port),
        "--webhook", f"{urls[0]}/webhooks/stripe", "--webhook-secret", webhook_secret,
    ]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as files:
        try:
            out = files.enter_context((logs / "emulator.log").open("wb"))
            emulator = subprocess.Popen(
                emulator_cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT
            )
            processes.append(emulator)
            wait_until_serving(f"{emulator_url}/_emulator/state", emulator)
            pids = {"emulator": emulator.pid}
            for name, port, backend_url in zip(INSTANCES, (port_a, port_b), urls, strict=True):
                out = files.enter_context((logs / f"{name.replace(' ', '-')}.log").open("wb"))
                backend = subprocess.Popen(
                    [*serve, "--port", str(port)], cwd=workdir,
                    env={**env, "COUNTERTOP_PUBLIC_URL": backend_url},
                    stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
                processes.append(backend)
                wait_until_serving(f"{backend_url}/healthz", backend)
                pids[name] = backend.pid
            yield Stack(emulator_url, urls, admin, pids, logs)
        finally:
            for process in reversed(processes):
                stop(process)


def snapshot_backends(stack: Stack) -> None:
    """Ask each traced backend for a tracemalloc snapshot (bench/traced_serve.py)."""
    for name in INSTANCES:
        os.kill(stack.pids[name], signal.SIGUSR1)


def allocation_growth(folder: Path, pids: dict[str, int], top: int = 12) -> list[str]:
    """For each backend, the source lines whose live allocations grew most from its first
    snapshot to its last (waiting a little for the last one to be written)."""
    lines = []
    for name in INSTANCES:
        deadline = time.monotonic() + 30
        while len(snaps := sorted(folder.glob(f"{pids[name]}-*.snap"))) < 2:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if len(snaps) < 2:
            lines.append(f"{name}: fewer than two tracemalloc snapshots in {folder}")
            continue
        snaps.sort(key=lambda p: int(p.stem.split("-")[1]))
        first, last = (tracemalloc.Snapshot.load(str(p)) for p in (snaps[0], snaps[-1]))
        lines += ["", f"{name}: live allocations that grew most after the warm-up (tracemalloc)"]
        for stat in last.compare_to(first, "lineno")[:top]:
            frame = stat.traceback[0]
            lines.append(
                f"  {stat.size_diff / 1024:+9.1f} kB {stat.count_diff:+7d} blocks  "
                f"{frame.filename}:{frame.lineno}"
            )
    return lines


def log_problems(logs: Path) -> Counter[str]:
    """Lines at ERROR or above, and tracebacks, in each process's log."""
    found: Counter[str] = Counter()
    for log in sorted(logs.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if "ERROR" in line or "CRITICAL" in line or line.startswith("Traceback"):
                found[log.stem] += 1
    return found


# --- tills -----------------------------------------------------------------------------------


@dataclass
class Stats:
    errors: Counter[str] = field(default_factory=Counter)
    calls: dict[str, list[float]] = field(default_factory=dict)
    sales: list[float] = field(default_factory=list)
    paid_seen: Counter[str] = field(default_factory=Counter)
    completed: int = 0  # every sale paid, warm-up included
    completed_in_window: int = 0
    stream_restarts: int = 0


@dataclass
class Window:
    start: float  # end of the warm-up (perf_counter)
    end: float


class Till:
    def __init__(self, http: httpx.AsyncClient, location: str, reader: str, seed: int) -> None:
        self.http = http
        self.location = location
        self.reader = reader
        self.rng = random.Random(seed)
        self.current: str | None = None
        self.outcome: asyncio.Future[str] | None = None
        self.streaming = asyncio.Event()

    async def call(
        self, stats: Stats, window: Window, name: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            stats.errors[f"{name}: {type(error).__name__}"] += 1
            return None
        if began >= window.start:
            stats.calls.setdefault(name, []).append(time.perf_counter() - began)
        if not response.is_success:
            code = ""
            with contextlib.suppress(ValueError, AttributeError):
                code = response.json().get("code") or ""
            stats.errors[f"{name}: {response.status_code} {code}".strip()] += 1
            return None
        return response

    async def follow(self, stats: Stats) -> None:
        """The location's live event stream, reconnecting when it ends (as a browser would)."""
        path = f"/api/locations/{self.location}/events"
        while True:
            try:
                async with self.http.stream("GET", path, timeout=httpx.Timeout(60, read=None)) as r:
                    if not r.is_success:
                        stats.errors[f"event stream: {r.status_code}"] += 1
                    else:
                        self.streaming.set()
                        await self.read_events(r)
            except httpx.HTTPError as error:
                stats.errors[f"event stream: {type(error).__name__}"] += 1
            stats.stream_restarts += 1
            await asyncio.sleep(1.0)

    async def read_events(self, response: httpx.Response) -> None:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif event == "order" and line.startswith("data: "):
                current = self.current
                if current is not None and current in line:
                    self.settle(json.loads(line[6:]), "stream")

    def settle(self, order: dict[str, Any], via: str) -> None:
        """Resolve the sale's outcome when `order` (the current one) is paid or its payment ended."""
        if order.get("id") != self.current or self.outcome is None or self.outcome.done():
            return
        if order["status"] == "paid":
            self.outcome.set_result(f"paid:{via}")
            return
        attempts = order.get("attempts") or []
        if attempts and attempts[-1]["status"] in FAILED_ATTEMPT:
            error = attempts[-1].get("last_error") or {}
            self.outcome.set_result(f"{attempts[-1]['status']} {error.get('code') or ''}".strip())

    async def sell(self, stats: Stats, window: Window, sale_timeout: float) -> None:
        began = time.perf_counter()
        body = {"location": self.location, "currency": "usd", "amount": sale_amount(self.rng)}
        key = {"Idempotency-Key": uuid.uuid4().hex}
        created = await self.call(
            stats, window, "create order", "POST", "/api/orders", json=body, headers=key
        )
        if created is None:
            return await self.recover()
        self.current = created.json()["id"]
        self.outcome = asyncio.get_running_loop().create_future()
        started = await self.call(
            stats, window, "start payment", "POST", f"/api/orders/{self.current}/payments",
            json={"reader": self.reader},
        )  # fmt: skip
        if started is None:
            return await self.recover()
        outcome = await self.wait(stats, window, began + sale_timeout)
        finished = time.perf_counter()
        if outcome is None:
            stats.errors[f"sale: not paid within {sale_timeout:.0f} s"] += 1
            return await self.recover()
        if not outcome.startswith("paid:"):
            stats.errors[f"sale: payment {outcome}"] += 1
            return await self.recover()
        stats.completed += 1
        stats.paid_seen[outcome.removeprefix("paid:")] += 1
        if began >= window.start:
            stats.sales.append(finished - began)
        if window.start <= finished <= window.end:
            stats.completed_in_window += 1

    async def wait(self, stats: Stats, window: Window, deadline: float) -> str | None:
        """The sale's outcome, from the stream or from re-reading the order every 3 s."""
        assert self.outcome is not None
        while (left := deadline - time.perf_counter()) > 0:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(self.outcome), min(POLL_SECONDS, left))
            read = await self.call(
                stats, window, "re-read order", "GET", f"/api/orders/{self.current}"
            )
            if read is not None:
                self.settle(read.json(), "re-read")
        return self.outcome.result() if self.outcome.done() else None

    async def recover(self) -> None:
        """After a failed sale: free the reader as the operator would, and pause a moment."""
        self.current = None
        with contextlib.suppress(httpx.HTTPError):
            await self.http.post(f"/api/readers/{self.reader}/clear")
        await asyncio.sleep(1.0)

    async def run(self, stats: Stats, window: Window, sale_timeout: float) -> None:
        while time.perf_counter() < window.end:
            await self.sell(stats, window, sale_timeout)


# --- the run ---------------------------------------------------------------------------------


async def set_up(
    stack: Stack, clients: Sequence[httpx.AsyncClient], tills: int, locations: int
) -> list[Till]:
    """Locations, then one reader per till registered through the till's own instance."""
    location_ids = []
    for n in range(locations):
        created = await clients[0].post(
            "/api/locations", json={"display_name": f"Shop {n + 1}", "address": ADDRESS}
        )
        created.raise_for_status()
        location_ids.append(created.json()["id"])
    made = []
    async with httpx.AsyncClient(base_url=stack.emulator_url, timeout=60) as emulator:
        for n in range(tills):
            http, location = clients[n % 2], location_ids[n % locations]
            body = {
                "registration_code": "simulated-wpe",
                "label": f"Till {n + 1}",
                "location": location,
            }
            reader = await http.post("/api/readers", json=body)
            reader.raise_for_status()
            reader_id = reader.json()["id"]
            auto = await emulator.post(
                f"/_emulator/readers/{reader_id}/auto_present", json={"after_ms": 0}
            )
            auto.raise_for_status()
            made.append(Till(http, location, reader_id, seed=n))
    return made


def sample(stack: Stack, began: float, stats: Stats) -> Sample:
    return Sample(
        at=time.perf_counter() - began,
        sales=stats.completed,
        rss_kb={name: rss_kb(pid) for name, pid in stack.pids.items()},
        cpu={
            **{name: cpu_seconds(pid) for name, pid in stack.pids.items()},
            LOAD: time.process_time(),
        },
    )


async def sampler(stack: Stack, began: float, stats: Stats, samples: list[Sample]) -> None:
    while True:
        await asyncio.sleep(SAMPLE_SECONDS - (time.perf_counter() - began) % SAMPLE_SECONDS)
        samples.append(sample(stack, began, stats))
        last = samples[-1]
        rss = " / ".join(f"{last.rss_kb[p] / 1024:.0f}" for p in PROCESSES)
        print(
            f"[{last.at:5.0f} s] {last.sales:,} sales, {sum(stats.errors.values())} errors, "
            f"RSS A / B / emulator {rss} MB",
            file=sys.stderr,
            flush=True,
        )


@dataclass
class Result:
    args: argparse.Namespace
    stats: Stats
    samples: list[Sample]
    window: float
    log_problems: Counter[str]
    machine: list[str]


async def soak(stack: Stack, args: argparse.Namespace) -> tuple[Stats, list[Sample], float]:
    per_instance = -(-args.tills // 2)
    limits = httpx.Limits(
        max_connections=2 * per_instance + 8, max_keepalive_connections=2 * per_instance + 8
    )
    headers = {"Authorization": f"Bearer {stack.admin_credential}"}
    timeout = httpx.Timeout(args.timeout)
    async with contextlib.AsyncExitStack() as exits:
        clients = [
            await exits.enter_async_context(
                httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits)
            )
            for url in stack.backend_urls
        ]
        tills = await set_up(stack, clients, args.tills, args.locations)
        stats = Stats()
        streams = [asyncio.create_task(till.follow(stats)) for till in tills]
        await asyncio.wait_for(asyncio.gather(*(t.streaming.wait() for t in tills)), 60)
        began = time.perf_counter()
        window = Window(began + args.warmup, began + args.warmup + args.minutes * 60)
        samples = [sample(stack, began, stats)]
        watch = asyncio.create_task(sampler(stack, began, stats, samples))
        if args.tracemalloc is not None:
            asyncio.get_running_loop().call_at(window.start, snapshot_backends, stack)
        try:
            await asyncio.gather(*(t.run(stats, window, args.sale_timeout) for t in tills))
        finally:
            for task in (watch, *streams):
                task.cancel()
            await asyncio.gather(watch, *streams, return_exceptions=True)
        samples.append(sample(stack, began, stats))
        if args.tracemalloc is not None:
            snapshot_backends(stack)
            await asyncio.sleep(0)
    return stats, samples, args.warmup


def report(result: Result) -> str:
    args, stats, samples = result.args, result.stats, result.samples
    measured = args.minutes * 60
    errors = sum(stats.errors.values())
    lines = [
        f"# Load and soak: {args.tills} tills ({-(-args.tills // 2)} on backend A, "
        f"{args.tills // 2} on backend B) over {args.locations} locations, PostgreSQL, "
        f"{args.minutes:g} min measured after a {args.warmup:g} s warm-up",
        *result.machine,
        "",
        "| latency (measured window) | count | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
        latency_row("whole sale (create order to paid seen)", stats.sales),
        *(
            latency_row(name, stats.calls.get(name, []))
            for name in ("create order", "start payment", "re-read order")
        ),
        "",
        f"- sales paid in the measured window: {stats.completed_in_window:,} "
        f"({stats.completed_in_window / measured:.1f} sales/s); in the whole run "
        f"{stats.completed:,}",
        "- paid first seen on: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(stats.paid_seen.items())),
        f"- event streams reconnected: {stats.stream_restarts}",
        f"- errors (whole run, warm-up included): {errors}",
        *(f"  - {kind}: {count}" for kind, count in sorted(stats.errors.items())),
        "- log lines at ERROR or tracebacks: "
        + (", ".join(f"{k} {v}" for k, v in sorted(result.log_problems.items())) or "none"),
        "",
        "Memory over time:",
        "",
        *memory_table(samples, 60.0 if args.minutes >= 5 else 30.0, result.window),
        "",
    ]
    first, last = samples[0], samples[-1]
    span = max(last.at - first.at, 1e-9)
    cpu = ", ".join(
        f"{p} {100 * (last.cpu[p] - first.cpu[p]) / span:.0f}%" for p in (*PROCESSES, LOAD)
    )
    after_warmup = next((s for s in samples if s.at >= result.window), last)
    lines.append(f"- CPU over the run (of one core): {cpu}")
    for name in PROCESSES:
        g = growth(samples, name, result.window)
        verdict = "flat" if g.flat else "GROWS"
        if name == "emulator":
            per_sale = 1024 * g.mb / max(last.sales - after_warmup.sales, 1)
            verdict = f"holds every Stripe object by design, {per_sale:.1f} kB per sale"
        lines.append(
            f"- {name} RSS from the end of the warm-up to the end: {g.start_mb:,.1f} to "
            f"{g.end_mb:,.1f} MB ({g.mb:+.1f} MB, {g.percent:+.1f}%, slope "
            f"{g.slope_mb_per_min:+.2f} MB/min): {verdict}"
        )
    backends_flat = all(growth(samples, n, result.window).flat for n in INSTANCES)
    lines.append(
        f"RESULT: {errors} errors; backend memory "
        + (f"flat (within {FLAT_PERCENT:g}%)" if backends_flat else "NOT flat")
    )
    return "\n".join(lines)


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        f"- machine: {os.cpu_count()} CPUs ({model or cpu}), Python {platform.python_version()}, "
        f"Linux {platform.release()}; load average at the end {load}"
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tills", type=int, default=100, help="concurrent tills, one reader each")
    parser.add_argument("--minutes", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before the window")
    parser.add_argument("--locations", type=int, default=10, help="tills are spread over these")
    parser.add_argument("--timeout", type=float, default=60.0, help="per backend call, seconds")
    parser.add_argument("--sale-timeout", type=float, default=120.0, help="create to paid, seconds")
    parser.add_argument("--log-level", default="INFO", help="the backends' COUNTERTOP_LOG_LEVEL")
    parser.add_argument("--logs", type=Path, help="keep the three processes' logs here")
    parser.add_argument(
        "--tracemalloc",
        type=Path,
        help="run the backends under tracemalloc, snapshot them here at the end of the warm-up "
        "and at the end, and print what grew most in between (slows them down, and their RSS "
        "then counts tracemalloc's own records: leave the RSS verdict aside)",
    )
    parser.add_argument("--json", type=Path, help="also write the samples and latencies here")
    args = parser.parse_args(argv)
    print(f"# load average before: {os.getloadavg()}", file=sys.stderr, flush=True)
    with two_instances(args.log_level, args.tracemalloc) as stack:
        stats, samples, window = asyncio.run(soak(stack, args))
        problems = log_problems(stack.logs)
        if args.logs is not None:  # the logs outlive the run's scratch directory
            shutil.copytree(stack.logs, args.logs, dirs_exist_ok=True)
        # Before the backends stop: this waits for their last snapshots to be written.
        grown = allocation_growth(args.tracemalloc, stack.pids) if args.tracemalloc else []
    result = Result(args, stats, samples, window, problems, machine())
    print(report(result), flush=True)
    if grown:
        print("\n".join(grown), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({
            "errors": dict(stats.errors),
            "calls": stats.calls,
            "sales": stats.sales,
            "samples": [s.__dict__ for s in samples],
        }))  # fmt: skip
    ok = not stats.errors and all(growth(samples, n, window).flat for n in INSTANCES)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
