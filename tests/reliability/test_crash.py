"""A few crash-recovery rounds in every test run: `countertop serve` is SIGKILLed in the middle of
sales and started again while Stripe (the emulator, running apart) keeps its state; afterwards no
one was charged twice, no sale was lost, and nothing is left authorized or stuck.
`python -m bench.crash` runs many more rounds."""

from __future__ import annotations

from pathlib import Path

from bench.crash import CrashConfig, run


async def test_killing_the_backend_mid_sale_loses_and_doubles_nothing(
    database_url: str, tmp_path: Path
) -> None:
    config = CrashConfig(kills=2, sales=8, tills=2, seed=5)
    report = await run(config, database_url, tmp_path)
    print(report.text())
    assert (report.kills, report.restarts) == (2, 2)
    assert report.verdict.ok, report.text()
    assert report.verdict.counts["orders"] == 8
    assert report.verdict.counts["captured charges"] >= 7
    # The kills interrupted sales: with the tills ringing up sales back to back, at least one
    # landed while a sale was open (its request cut, or its payment on the reader meanwhile).
    assert report.kills_mid_sale >= 1
