"""``countertop emulator`` serves the API on the port it is given, with the state file it is given."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "the emulator exited"
        try:
            httpx.get(url + "/", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the emulator did not start")


def test_countertop_emulator_serves_and_keeps_state(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "countertop.cli",
        "emulator",
        "--port",
        str(port),
        "--state",
        str(tmp_path / "state.sqlite"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(url, process)
        created = httpx.post(
            url + "/v1/terminal/readers",
            data={"registration_code": "simulated-wpe"},
            auth=("sk_test_cli", ""),
        )
        assert created.status_code == 200
        assert created.json()["device_type"] == "simulated_wisepos_e"
    finally:
        process.terminate()
        process.wait(timeout=10)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(url, process)
        listed = httpx.get(url + "/v1/terminal/readers", auth=("sk_test_cli", ""))
        assert [r["id"] for r in listed.json()["data"]] == [created.json()["id"]]
    finally:
        process.terminate()
        process.wait(timeout=10)
