"""The benchmark's wrk scripts really exercise the emulator (a wiring check; no timings asserted).

A benchmark whose requests all fail still prints a throughput, so this checks that the scripts'
requests are accepted: the mixed script's POSTs and its GETs of the ids they created all answer
2xx, and the store-growing script creates exactly the PaymentIntents it counts.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from countertop.emulator.server import EmulatorServer
from tests.emulator.openapi import flow_client

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def _bench_module() -> ModuleType:
    """bench/emulator_bench.py, loaded as its command line runs it (bench/ first on the path)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("emulator_bench", BENCH_DIR / "emulator_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _payment_intent_count(server: EmulatorServer) -> int:
    client = flow_client(server)
    return sum(1 for _ in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter())


def test_growth_script_creates_the_requested_number(server: EmulatorServer) -> None:
    bench = _bench_module()
    before = _payment_intent_count(server)
    summary = bench.grow_over_http(server.url, 120)
    assert summary["status_errors"] == 0
    created = _payment_intent_count(server) - before
    # wrk stops after the 120th success; a few requests already on the wire may land too
    assert 120 <= created <= 120 + 16


def test_mixed_script_creates_and_reads_back_without_errors(server: EmulatorServer) -> None:
    bench = _bench_module()
    result = bench.wrk(server.url, bench.MIXED_SCRIPT, 1, 2)
    assert result["requests"] > 10
    assert result["errors"] == dict.fromkeys(result["errors"], 0), "a POST or GET was refused"
    assert _payment_intent_count(server) >= result["requests"] // 2 - 2
