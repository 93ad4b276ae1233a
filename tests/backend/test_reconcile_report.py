"""How a reconciliation run reads as a table, JSON and CSV, and when it needs a person."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from rich.console import Console

from countertop.backend.reconcile import Outcome, Run, Window
from countertop.backend.reconcile_report import as_csv, as_json, as_table, needs_attention, summary
from countertop.domain.reconciliation import Discrepancy, Fix, Kind, Report

START = datetime(2026, 11, 22, tzinfo=UTC)
END = datetime(2026, 11, 23, tzinfo=UTC)
CAPTURE = Fix("capture", "pi_1")
CANCEL = Fix("cancel", "pi_2", cancellation_reason="abandoned")
FOUND = (
    Discrepancy(
        Kind.UNCAPTURED, "1000 authorized", "pi_1", "ord_1", 1000, 1000, 1795500000, 7200, CAPTURE
    ),
    Discrepancy(
        Kind.ORPHAN, "requires_capture with no order", "pi_2", None, actual=500, fix=CANCEL
    ),
    Discrepancy(Kind.TIP_MISMATCH, "tip on Stripe is 300", "pi_3", "ord_3", 200, 300),
)


def run(fix: bool, outcomes: tuple[Outcome, ...] = ()) -> Run:
    report = Report(int(START.timestamp()), int(END.timestamp()), int(END.timestamp()), 3, 2, FOUND)
    return Run("recon_1", Window(START, END), fix, report, outcomes)


def test_table_shows_each_discrepancy_its_fix_and_the_outcome() -> None:
    done = run(
        True, (Outcome(CAPTURE, True, "succeeded"), Outcome(CANCEL, False, error="api_error: boom"))
    )
    out = io.StringIO()
    Console(file=out, width=250, color_system=None).print(as_table(done))
    text = out.getvalue()
    for expected in (
        "uncaptured_authorization",
        "ord_1",
        "2h00m",
        "capture on pi_1",
        "done (succeeded)",
        "failed: api_error: boom",
        "by hand",
        "tip on Stripe is 300",
    ):
        assert expected in text, expected
    assert "3 discrepancies; 1 fixed, 1 fixes failed" in summary(done)


def test_json_and_csv_carry_the_same_findings() -> None:
    done = run(True, (Outcome(CAPTURE, True, "succeeded"),))
    body = json.loads(as_json(done))
    assert [d["kind"] for d in body["discrepancies"]] == [
        "uncaptured_authorization",
        "orphan_payment_intent",
        "tip_mismatch",
    ]
    assert body["actions"][0] == {
        "action": "capture",
        "payment_intent": "pi_1",
        "amount_to_capture": None,
        "cancellation_reason": None,
        "ok": True,
        "status": "succeeded",
        "error": None,
    }
    rows = list(csv.DictReader(io.StringIO(as_csv(done))))
    assert [(r["kind"], r["fix_result"]) for r in rows] == [
        ("uncaptured_authorization", "done (succeeded)"),
        ("orphan_payment_intent", ""),
        ("tip_mismatch", ""),
    ]
    assert rows[0]["capture_before"].endswith("UTC") and rows[2]["fix"] == ""


def test_needs_attention_until_every_discrepancy_is_fixed() -> None:
    assert needs_attention(run(False))  # a dry run with findings
    both = (Outcome(CAPTURE, True, "succeeded"), Outcome(CANCEL, True, "canceled"))
    assert needs_attention(run(True, both))  # the tip mismatch has no fix
    clean = Run("recon_2", Window(START, END), True, Report(0, 1, 1, 0, 0, ()))
    assert not needs_attention(clean)
    assert "no discrepancies" in summary(clean)
