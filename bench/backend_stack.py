"""The processes a backend benchmark runs: the emulator and the backend, each in its own process,
configured as in production against Stripe (the backend knows the emulator only by its address,
verifies webhooks with a secret it was given, and its endpoint sends the event types that
`countertop doctor` asks for), plus a fresh database for each run."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from countertop.backend.stripe_gateway import WEBHOOK_EVENTS

ROOT = Path(__file__).resolve().parent.parent
COUNTERTOP = str(Path(sys.executable).with_name("countertop"))
API_KEY = "sk_test_backend_bench"
POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    emulator_url: str
    backend_url: str
    webhook_secret: str
    admin_credential: str
    database: str
    logs: Path
    backend_pid: int
    emulator_pid: int


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start within {timeout} s")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """The process and every process below it (a backend's worker processes, say)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process and its descendants have used so far (Linux)."""
    total = 0
    for each in descendants(pid):
        try:
            fields = _stat(each)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def named_cpu_seconds(name: str) -> float:
    """User plus system CPU time used so far by every process whose command is `name`
    (`postgres`: the database server, its connection processes included)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != name:
                continue
            fields = _stat(int(entry.name))
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent not idle so far, over all its cores (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    name = "ct_bench_" + secrets.token_hex(4)
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(sql: str) -> None:
    import asyncio

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    # Its own thread: the caller may be inside an event loop already.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def running_stack(kind: str, log_level: str = "INFO", workers: int = 1) -> Iterator[Stack]:
    """Emulator and backend processes on loopback ports, on a fresh database of `kind`."""
    with tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
        workdir = Path(tmp)
        with database(kind, workdir) as url:
            yield from _processes(url, workdir, log_level, workers)


def _processes(url: str, workdir: Path, log_level: str, workers: int = 1) -> Iterator[Stack]:
    emulator_port, backend_port = free_port(), free_port()
    backend_url = f"http://127.0.0.1:{backend_port}"
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    secret = "whsec_" + secrets.token_hex(16)
    admin = "admin-" + secrets.token_urlsafe(16)
    logs = workdir / "logs"
    logs.mkdir()
    emulator_cmd = [
        COUNTERTOP, "emulator", "--port", str(emulator_port),
        "--webhook", f"{backend_url}/webhooks/stripe", "--webhook-secret", secret,
        "--webhook-events", ",".join(WEBHOOK_EVENTS),
    ]  # fmt: skip
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_API_BASE": emulator_url,
        "STRIPE_WEBHOOK_SECRET": secret,
        "DATABASE_URL": url,
        "COUNTERTOP_PUBLIC_URL": backend_url,
        "COUNTERTOP_ADMIN_CREDENTIAL": admin,
        "COUNTERTOP_LOG_LEVEL": log_level,
        "COUNTERTOP_WORKERS": str(workers),
    }
    env.pop("COUNTERTOP_EMULATOR", None)
    with (
        (logs / "emulator.log").open("wb") as emulator_log,
        (logs / "backend.log").open("wb") as backend_log,
    ):
        emulator = subprocess.Popen(
            emulator_cmd, cwd=workdir, stdout=emulator_log, stderr=subprocess.STDOUT
        )
        backend = None
        try:
            wait_until_serving(f"{emulator_url}/_emulator/state", emulator)
            backend = subprocess.Popen(
                [COUNTERTOP, "serve", "--port", str(backend_port)],
                cwd=workdir, env=env, stdout=backend_log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            wait_until_serving(f"{backend_url}/healthz", backend)
            yield Stack(
                emulator_url, backend_url, secret, admin, url, logs, backend.pid, emulator.pid
            )
        finally:
            if backend is not None:
                stop(backend)
            stop(emulator)
