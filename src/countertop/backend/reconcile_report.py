"""A reconciliation run as a table (people), JSON (machines) or CSV (spreadsheets)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from rich.markup import escape
from rich.table import Table

from countertop.backend.reconcile import Outcome, Run
from countertop.domain.reconciliation import Discrepancy

CSV_COLUMNS = (
    "kind",
    "order_id",
    "payment_intent",
    "expected",
    "actual",
    "capture_before",
    "seconds_left",
    "fix",
    "fix_result",
    "detail",
)


def _when(ts: int | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _left(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m"


def _outcomes(run: Run) -> dict[str, Outcome]:
    return {o.fix.payment_intent: o for o in run.outcomes}


def _result(d: Discrepancy, outcomes: dict[str, Outcome]) -> str:
    outcome = outcomes.get(d.payment_intent or "")
    if d.fix is None or outcome is None:
        return ""
    return f"done ({outcome.status})" if outcome.ok else f"failed: {outcome.error}"


def summary(run: Run) -> str:
    report = run.report
    head = (
        f"{_when(report.start)} to {_when(report.end)}: {report.payment_intents_checked} "
        f"PaymentIntents, {report.orders_checked} orders"
    )
    if report.clean:
        return f"{head}; no discrepancies."
    fixed = sum(o.ok for o in run.outcomes)
    failed = len(run.outcomes) - fixed
    tail = f"; {fixed} fixed, {failed} fixes failed" if run.fix else "; dry run, nothing changed"
    return f"{head}; {len(report.discrepancies)} discrepancies{tail}."


def as_table(run: Run) -> Table:
    outcomes = _outcomes(run)
    table = Table(title="Reconciliation", caption=summary(run), show_lines=False)
    for name in ("Kind", "Order", "PaymentIntent", "Expected", "Actual", "Time left", "Fix"):
        table.add_column(name, overflow="fold")
    table.add_column("Detail", overflow="fold")
    for d in run.report.discrepancies:
        fix = d.fix.describe() if d.fix else "[dim]by hand[/]"
        result = _result(d, outcomes)
        table.add_row(
            d.kind.value,
            d.order_id or "",
            d.payment_intent or "",
            "" if d.expected is None else str(d.expected),
            "" if d.actual is None else str(d.actual),
            _left(d.seconds_left),
            f"{escape(fix) if d.fix else fix}{' - ' + escape(result) if result else ''}",
            escape(d.detail),
        )
    return table


def as_json(run: Run) -> str:
    return json.dumps(run.to_dict(), indent=2, sort_keys=True)


def as_csv(run: Run) -> str:
    outcomes = _outcomes(run)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for d in run.report.discrepancies:
        writer.writerow(
            [
                d.kind.value,
                d.order_id or "",
                d.payment_intent or "",
                "" if d.expected is None else d.expected,
                "" if d.actual is None else d.actual,
                _when(d.capture_before),
                "" if d.seconds_left is None else d.seconds_left,
                d.fix.describe() if d.fix else "",
                _result(d, outcomes),
                d.detail,
            ]
        )
    return out.getvalue()


def needs_attention(run: Run) -> bool:
    """True while anything is left for a person: a discrepancy unfixed, or a fix that failed."""
    if not run.fix:
        return not run.report.clean
    done = {o.fix.payment_intent for o in run.outcomes if o.ok}
    return any(d.fix is None or d.payment_intent not in done for d in run.report.discrepancies)
