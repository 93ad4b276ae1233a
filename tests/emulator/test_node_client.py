"""The official Node library (`stripe` on npm) runs a whole Terminal flow against the emulator.

`tests/clients/node/terminal_flow.mjs` drives locations, readers, reader actions, test helpers,
PaymentIntents, refunds, events, webhook endpoints, idempotency and errors through stripe-node, at
the library's pinned API version, at 2023-10-16 and for a connected account, and checks every
webhook with `stripe.webhooks.constructEvent`. `make test` installs Node.js when it is missing
(`scripts/ensure-node.sh`); the package itself comes from the npm registry, pinned by the lock file.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from countertop.emulator.server import EmulatorServer

NODE_CHECK = Path(__file__).resolve().parents[1] / "clients" / "node"
WEBHOOK_SECRET = "whsec_node_client_check"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed: run scripts/ensure-node.sh"
    if not (NODE_CHECK / "node_modules" / "stripe" / "package.json").exists():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_CHECK, check=True, timeout=300
        )
    return node


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_stripe_node_runs_a_terminal_flow_and_verifies_every_webhook(node: str) -> None:
    port = _free_port()
    emulator = EmulatorServer(
        webhook_urls=[f"http://127.0.0.1:{port}/hook"], webhook_secret=WEBHOOK_SECRET
    ).start()
    try:
        run = subprocess.run(
            [node, "terminal_flow.mjs", emulator.url],
            cwd=NODE_CHECK,
            env={
                "PATH": "/usr/bin:/bin",
                "WEBHOOK_PORT": str(port),
                "WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        emulator.stop()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
