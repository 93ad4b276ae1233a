"""`countertop serve` keeps an idle connection open longer than clients and load balancers do,
so a request sent on a reused connection is never lost to the server closing it at that moment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from countertop.backend.runner import KEEP_ALIVE_SECONDS

COUNTERTOP = str(Path(sys.executable).with_name("countertop"))
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _status(conn: socket.socket) -> bytes:
    conn.sendall(REQUEST)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        assert chunk, "the server closed the connection"
        head += chunk
    return head.split(b" ", 2)[1]


def test_an_idle_connection_outlives_a_client_pools_expiry(tmp_path: Path) -> None:
    assert KEEP_ALIVE_SECONDS > 60  # above load balancers' usual upstream idle timeout
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"}
    for name in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET"):
        env.pop(name, None)
    server = subprocess.Popen(
        [COUNTERTOP, "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            assert _status(conn) == b"200"
            time.sleep(6.5)  # past uvicorn's default keep-alive (5 s) and httpx's pool expiry
            assert _status(conn) == b"200"
    finally:
        server.terminate()
        server.wait(20)
