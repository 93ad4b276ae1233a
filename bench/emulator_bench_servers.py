"""The servers the emulator benchmark compares: how each is started, pinned and stopped.

Each target runs as its own process pinned to CPU 0 (`taskset`), optionally with a raised
scheduling priority (`SCHEDULING`), and is stopped with SIGINT when its block ends.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOCALSTRIPE_STORE = Path("/tmp/localstripe.pickle")  # fixed by localstripe itself
# localstripe re-pickles its whole store to this file on every write, and its own start-up load
# of that file is unusable (unpickling calls the store's __setitem__, which rewrites the file being
# read). So a grown localstripe is started by this launcher: it fills the store in-process with
# saving switched off, switches saving back on (unless told "memory": then it stays off, which
# measures localstripe without its per-write save), then runs localstripe's own server.
LOCALSTRIPE_LAUNCH = """
import sys
from localstripe import resources, server
count, mode = int(sys.argv[1]), sys.argv[2]
save = resources.Store.dump_to_disk
resources.Store.dump_to_disk = lambda self: None
for _ in range(count):
    resources.PaymentIntent._api_create(
        amount=1000, currency="usd", payment_method_types=["card_present"])
if mode != "memory":
    resources.Store.dump_to_disk = save
sys.argv = ["localstripe", "--from-scratch", *sys.argv[3:]]
server.start()
"""


@dataclass
class Scheduling:
    nice: int = 0  # a negative value shields the measurement from other work (root)
    realtime: bool = False  # servers and wrk run SCHED_FIFO (chrt -f; root)


SCHEDULING = Scheduling()


@dataclass
class Target:
    name: str
    command: Callable[[int, int], list[str]]  # (port, objects to preload) -> argv
    grows_in_process: bool  # True: preloaded at start-up rather than grown over HTTP
    start_timeout: float = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int, command: list[str]) -> list[str]:
    if SCHEDULING.nice:
        command = ["nice", "-n", str(SCHEDULING.nice), *command]
    if SCHEDULING.realtime:
        command = ["chrt", "-f", "10", *command]
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu), *command]
    return command


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError as error:  # HTTPError (a 4xx answer) means it is up
            if getattr(error, "code", None):
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@dataclass(frozen=True)
class Server:
    target: Target
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process (all its threads) has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(target: Target, port: int, preloaded: int) -> Iterator[Server]:
    """Run the target on `port` (pinned to CPU 0) until the block ends; its output is kept."""
    url = f"http://127.0.0.1:{port}"
    command = pinned(0, target.command(port, preloaded))
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until_serving(url + "/", process, target.start_timeout)
            except RuntimeError:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace")[-3000:])
                raise
            yield Server(target, url, process.pid)  # taskset and nice exec the server itself
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def localstripe_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "localstripe").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "localstripe"], check=True)
    return python


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "wrk": wrk_version.splitlines()[0] if wrk_version else "unknown",
        "kernel": platform.release(),
        "nice": str(SCHEDULING.nice),
        "realtime": str(SCHEDULING.realtime),
    }


def targets(localstripe_venv: Path) -> dict[str, Target]:
    bin_dir = Path(sys.executable).parent

    def localstripe(mode: str) -> Callable[[int, int], list[str]]:
        def command(port: int, preloaded: int) -> list[str]:
            python = localstripe_python(localstripe_venv)
            launch = [str(python), "-c", LOCALSTRIPE_LAUNCH, str(preloaded), mode]
            return [*launch, "--port", str(port)]

        return command

    def emulator(port: int, preloaded: int) -> list[str]:
        return [str(bin_dir / "countertop"), "emulator", "--port", str(port)]

    def bare(port: int, preloaded: int) -> list[str]:
        app = ["bare_starlette:app", "--app-dir", str(BENCH), "--port", str(port)]
        return [str(bin_dir / "python"), "-m", "uvicorn", *app, "--log-level", "warning",
                "--no-access-log"]  # fmt: skip

    return {
        "emulator": Target("countertop emulator", emulator, grows_in_process=False),
        "localstripe": Target("localstripe", localstripe("as shipped"), grows_in_process=True),
        "localstripe-memory": Target(
            "localstripe, per-write save off", localstripe("memory"), grows_in_process=True
        ),
        "bare": Target("bare Starlette", bare, grows_in_process=False),
    }
