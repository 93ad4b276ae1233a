"""Throughput and latency of the emulator next to localstripe and a bare Starlette app.

Every target runs as its own process pinned to CPU 0, all started side by side; wrk runs pinned
to CPU 1, so the load generator never competes with the server for a core. Only one target is
under load at a time, and measurements go in rounds (each target once per round, `--repeat`
rounds, best run reported), so background load on a shared machine falls on all targets alike.

1. warm-up: 3 s of the mixed load per target, not reported;
2. fresh: the mixed load (`wrk_payment_intents.lua`: POST /v1/payment_intents with a form body,
   then GET of the PaymentIntent just created, alternating) for `--duration` seconds;
3. growth: each store grows by `--grow` more PaymentIntents (wrk POST-only, `wrk_prefill.lua`).
   localstripe re-pickles its whole store on every write, so it is instead restarted on a store
   that a bulk loop filled in-process before it began serving;
4. grown: the mixed load again, same rounds and duration.

Between 2 and 3, one "reads only" run per target (`wrk_read_only.lua`: one POST, then GETs of
that one PaymentIntent) stores nothing new: its tail is the machine's, not the store's.

Targets: the emulator (`countertop emulator`), localstripe as shipped, localstripe with its
per-write save switched off (its best case), and a bare Starlette app (bench/bare_starlette.py)
as the ceiling. localstripe is installed into its own virtualenv (default
bench/.venv-localstripe, git-ignored), never into the project's. Results print as a Markdown
table; `--json FILE` also saves them with every run's throughput.

    .venv/bin/python bench/emulator_bench.py                # every target
    .venv/bin/python bench/emulator_bench.py --only emulator --only bare --duration 5 --grow 20000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emulator_bench_servers import (
    LOCALSTRIPE_STORE,
    SCHEDULING,
    Server,
    Target,
    free_port,
    machine,
    pinned,
    serving,
    targets,
)

BENCH = Path(__file__).resolve().parent
MIXED_SCRIPT = BENCH / "wrk_payment_intents.lua"
PREFILL_SCRIPT = BENCH / "wrk_prefill.lua"
READ_ONLY_SCRIPT = BENCH / "wrk_read_only.lua"
API_KEY = "sk_test_bench"
TARGET_KEYS = ("emulator", "localstripe", "localstripe-memory", "bare")


@dataclass
class Result:
    target: str
    phase: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    load_1m: float  # the machine's load average as the run began: other work skews results
    server_cpu_s: float  # CPU time the server used during the run
    per_cpu_second: int  # requests per CPU-second of the server: its ceiling on an idle core
    rps_of_each_run: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    seconds: float  # per measured run
    connections: int
    repeat: int  # runs per measurement; the one with the best throughput is reported
    grow: int  # PaymentIntents added between the fresh and the grown measurement


def wrk_command(url: str, script: Path, seconds: float, connections: int, *args: str) -> list[str]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    command += ["-s", str(script), url]
    if args:
        command += ["--", *args]
    return pinned(1, command)


def wrk_env() -> dict[str, str]:
    return {**os.environ, "BENCH_API_KEY": API_KEY}


def wrk(url: str, script: Path, seconds: float, connections: int) -> dict[str, Any]:
    command = wrk_command(url, script, seconds, connections)
    out = subprocess.run(command, env=wrk_env(), capture_output=True, text=True, check=True)
    return _last_json_line(out.stdout)


def _last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            found: dict[str, Any] = json.loads(line)
            return found
    raise RuntimeError(f"wrk printed no result line:\n{text}")


def measure(
    server: Server, phase: str, seconds: float, connections: int, script: Path = MIXED_SCRIPT
) -> Result:
    load = os.getloadavg()[0]
    cpu_before = server.cpu_seconds()
    raw = wrk(server.url, script, seconds, connections)
    cpu = server.cpu_seconds() - cpu_before
    took = raw["duration_us"] / 1e6
    return Result(
        target=server.target.name,
        phase=phase,
        requests=raw["requests"],
        seconds=round(took, 2),
        rps=round(raw["requests"] / took, 1),
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p90_ms=round(raw["p90_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        max_ms=round(raw["max_us"] / 1000, 2),
        errors=sum(int(count) for count in raw["errors"].values()),
        load_1m=round(load, 2),
        server_cpu_s=round(cpu, 2),
        per_cpu_second=round(raw["requests"] / cpu) if cpu else 0,
    )


def grow_over_http(url: str, count: int) -> dict[str, Any]:
    """POST-only wrk until `count` PaymentIntents were created, then stop it."""
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "done"
        command = wrk_command(url, PREFILL_SCRIPT, 3600, 16, str(count), str(marker))
        process = subprocess.Popen(command, env=wrk_env(), stdout=subprocess.PIPE, text=True)
        while not marker.exists() and process.poll() is None:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    summary = _last_json_line(out)
    if summary["status_errors"]:
        raise RuntimeError(f"{url}: error answers while growing the store: {summary}")
    return summary


def best_of(runs: list[Result]) -> Result:
    """The run with the best throughput stands for the target's capability; all are kept."""
    best = max(runs, key=lambda run: run.rps)
    best.rps_of_each_run = [run.rps for run in runs]
    return best


def rounds(servers: dict[str, Server], phase: str, plan: Plan) -> list[Result]:
    """`plan.repeat` rounds, each measuring every target once in turn, so that whatever else
    the machine is doing falls on all targets alike."""
    runs: dict[str, list[Result]] = {key: [] for key in servers}
    for _ in range(plan.repeat):
        for key, server in servers.items():
            runs[key].append(measure(server, phase, plan.seconds, plan.connections))
    return [best_of(found) for found in runs.values()]


def bench(chosen: dict[str, Target], plan: Plan) -> list[Result]:
    """All targets run side by side (idle while another is measured), fresh then grown."""
    stacks = {key: ExitStack() for key in chosen}
    ports = {key: free_port() for key in chosen}
    try:
        servers = {
            key: stacks[key].enter_context(serving(target, ports[key], preloaded=0))
            for key, target in chosen.items()
        }
        for server in servers.values():
            measure(server, "warm-up", 3, plan.connections)
        results = rounds(servers, "fresh", plan)
        for server in servers.values():  # the machine's own tail, with nothing new stored
            results.append(
                measure(server, "reads only", plan.seconds, plan.connections, READ_ONLY_SCRIPT)
            )
        print(f"fresh store measured; growing each store by {plan.grow:,}", flush=True)
        for key, server in servers.items():
            if server.target.grows_in_process:
                stacks[key].close()
                restarted = serving(server.target, ports[key], preloaded=plan.grow)
                servers[key] = stacks[key].enter_context(restarted)
            else:
                grow_over_http(server.url, plan.grow)
        results += rounds(servers, f"+{plan.grow:,} objects", plan)
    finally:
        for stack in stacks.values():
            stack.close()
    order = [target.name for target in chosen.values()]
    return sorted(results, key=lambda result: order.index(result.target))


def table(results: list[Result]) -> str:
    lines = [
        "| target | store | req/s | req per CPU-s | p50 ms | p90 ms | p99 ms | max ms | requests "
        "| errors | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.target} | {r.phase} | {r.rps:,.0f} | {r.per_cpu_second:,} | {r.p50_ms} "
            f"| {r.p90_ms} | {r.p99_ms} | {r.max_ms} "
            f"| {r.requests:,} | {r.errors} | {r.load_1m} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=TARGET_KEYS, action="append")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--grow", type=int, default=100_000, help="PaymentIntents added")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="rounds per measurement (best kept)")
    parser.add_argument("--localstripe-venv", type=Path, default=BENCH / ".venv-localstripe")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--nice", type=int, default=0, help="scheduling priority of servers and wrk (root: < 0)"
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run servers and wrk SCHED_FIFO (root): other work on the machine cannot preempt "
        "them, except for the kernel's real-time throttling (by default 50 ms of every second)",
    )
    args = parser.parse_args(argv)
    SCHEDULING.nice, SCHEDULING.realtime = args.nice, args.realtime
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    chosen = targets(args.localstripe_venv)
    plan = Plan(args.duration, args.connections, args.repeat, args.grow)
    keys = args.only or list(TARGET_KEYS)
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    results = bench({key: chosen[key] for key in keys}, plan)
    LOCALSTRIPE_STORE.unlink(missing_ok=True)
    print(table(results))
    if args.json:
        payload = {
            "machine": info,
            "plan": asdict(plan),
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
