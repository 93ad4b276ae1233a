"""A small chaos run in every test run: concurrent tills ring up sales while the emulator faults
about one Stripe call in ten, drops, duplicates, delays and reorders webhooks, and readers drop off,
get busy or time out. Afterwards the invariants hold against Stripe's state: no double charge, no
lost sale, nothing left authorized or stuck. `python -m bench.chaos` runs the full size."""

from __future__ import annotations

from bench.chaos import ChaosConfig, run


async def test_sales_under_faults_keep_every_invariant(database_url: str) -> None:
    config = ChaosConfig(
        sales=16, tills=4, fault_rate=0.1, seed=7, sale_deadline=20.0, decline_rate=0.3
    )
    report = await run(config, database_url)
    print(report.text())
    assert report.verdict.ok, report.text()
    assert report.verdict.counts["orders"] == 16
    assert report.verdict.counts["captured charges"] >= 13
    assert report.tills.taps["declining card"] > 0
    faulted = {k for k, v in report.faults.items() if v and k != "api calls"}
    assert {"api error", "api drop_response", "webhook drop", "webhook duplicate"} <= faulted
