// End of day (admins): reconcile Stripe's payments of a day with the orders, then apply the safe fixes.
import { api } from "./api.js";
import { dateTime, money, time, today } from "./format.js";
import { $, banner, el, showError, startPage } from "./shell.js";

const session = await startPage();
const currency = session.config.currency || "usd";
let running = false;

const KINDS = {
  uncaptured_authorization: ["Uncaptured authorization", "warn"],
  failed_capture: ["Capture failed", "bad"],
  expired_authorization: ["Authorization expired", "bad"],
  abandoned_payment_intent: ["Abandoned payment", "warn"],
  orphan_payment_intent: ["Payment with no order", "warn"],
  paid_without_capture: ["Paid order, nothing captured", "bad"],
  unrecorded_capture: ["Capture not recorded", "bad"],
  duplicate_payment: ["Charged twice", "bad"],
  amount_mismatch: ["Amount differs", "bad"],
  tip_mismatch: ["Tip differs", "warn"],
  refund_mismatch: ["Refunds differ", "warn"],
};

function kindLabel(kind) {
  return KINDS[kind]?.[0] || kind.replaceAll("_", " ");
}

function timeLeft(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds <= 0) return "expired";
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours ? `${hours} h ${minutes} min left` : `${minutes} min left`;
}

function fixLabel(fix) {
  if (!fix) return el("span", { className: "muted" }, "Needs a person");
  if (fix.action === "capture") return `Capture ${money(fix.amount_to_capture, currency)}`;
  return `Cancel (${(fix.cancellation_reason || "abandoned").replaceAll("_", " ")})`;
}

function findingRow(finding) {
  const [, tone] = KINDS[finding.kind] || ["", "warn"];
  const left = timeLeft(finding.seconds_left);
  return el(
    "tr",
    { dataset: { kind: finding.kind, paymentIntent: finding.payment_intent || "" } },
    el("td", {}, el("span", { className: `badge tone-${tone}` }, kindLabel(finding.kind)), el("div", { className: "muted small finding-detail" }, finding.detail || "")),
    el("td", { className: "mono" }, finding.payment_intent || "—"),
    el("td", {}, finding.order_id ? el("a", { href: `/orders/${encodeURIComponent(finding.order_id)}`, className: "mono" }, finding.order_id) : el("span", { className: "muted" }, "none")),
    el("td", { className: "num" }, money(finding.expected, currency)),
    el("td", { className: "num" }, money(finding.actual, currency)),
    el("td", {}, left ? el("span", { className: finding.seconds_left < 6 * 3600 ? "urgent" : "" }, left) : "—", finding.capture_before ? el("div", { className: "muted small" }, `by ${dateTime(finding.capture_before)}`) : null),
    el("td", { className: "fix-cell" }, fixLabel(finding.fix)),
  );
}

function actionRow(action) {
  return el(
    "tr",
    { dataset: { paymentIntent: action.payment_intent } },
    el("td", {}, action.action === "capture" ? "Captured" : "Canceled"),
    el("td", { className: "mono" }, action.payment_intent),
    el("td", { className: "num" }, action.amount_to_capture ? money(action.amount_to_capture, currency) : "—"),
    el("td", {}, action.ok ? el("span", { className: "badge tone-good" }, `Done · ${action.status || "ok"}`) : el("span", { className: "badge tone-bad" }, action.error || "Failed")),
  );
}

function stat(label, value) {
  return el("div", { className: "stat" }, el("span", {}, label), el("strong", {}, value ?? "—"));
}

function showReport(run) {
  const findings = run.discrepancies || [];
  const actions = run.actions || [];
  const fixable = findings.filter((f) => f.fix).length;
  $("eod-report").hidden = false;
  $("report-title").textContent = `${run.fix ? "Fixes for" : "Report for"} ${run.date} (${run.tz})`;
  const badge = $("report-badge");
  if (run.status === "failed") {
    badge.className = "badge tone-bad";
    badge.textContent = "Failed";
  } else {
    badge.className = `badge ${findings.length ? "tone-warn" : "tone-good"}`;
    badge.textContent = findings.length ? `${findings.length} to look at` : "All clear";
  }
  $("report-stats").replaceChildren(
    stat("Payments checked", run.payment_intents_checked),
    stat("Orders checked", run.orders_checked),
    stat("Problems", findings.length),
    stat("Fixable here", fixable),
  );
  showError("eod-error", run.status === "failed" ? run.error || "The run failed." : null);
  $("report-clean").hidden = findings.length > 0 || run.status === "failed";
  $("findings-wrap").hidden = findings.length === 0;
  $("findings").replaceChildren(...findings.map(findingRow));
  $("actions-block").hidden = !run.fix;
  $("actions").replaceChildren(
    ...(actions.length ? actions.map(actionRow) : [el("tr", {}, el("td", { colSpan: 4, className: "muted" }, "Nothing needed fixing."))]),
  );
  const canApply = !run.fix && fixable > 0;
  $("eod-apply").hidden = !canApply;
  $("apply-note").textContent = canApply
    ? `${fixable} of ${findings.length} can be fixed here: authorizations of completed orders are captured, payments nobody will complete are canceled. The rest needs a person.`
    : "";
}

function setRunning(on, title) {
  running = on;
  $("eod-progress").hidden = !on;
  $("eod-progress-title").textContent = title || "";
  $("eod-check").disabled = on;
  $("apply-fixes").disabled = on;
  $("eod").setAttribute("aria-busy", on ? "true" : "false");
}

async function runReconciliation(fix) {
  if (running) return;
  const date = $("eod-date").value;
  const tz = $("eod-tz").value.trim() || "UTC";
  if (!date) return showError("eod-error", "Pick the day to check.");
  showError("eod-error", null);
  const started = Date.now();
  const verb = fix ? "Applying fixes" : "Checking";
  setRunning(true, `${verb} ${date}…`);
  const ticker = setInterval(() => {
    $("eod-progress-title").textContent = `${verb} ${date}… ${Math.round((Date.now() - started) / 1000)} s`;
  }, 1000);
  try {
    const run = await api.post("/api/reconciliations", { date, tz, fix });
    showReport(run);
    if (fix) banner(`${(run.actions || []).filter((a) => a.ok).length} fix(es) applied for ${date}.`, "good");
  } catch (error) {
    showError("eod-error", error.message);
  } finally {
    clearInterval(ticker);
    setRunning(false);
    await loadRuns().catch(() => {});
  }
}

async function openRun(id) {
  try {
    const run = await api.get(`/api/reconciliations/${encodeURIComponent(id)}`);
    $("eod-date").value = run.date;
    $("eod-tz").value = run.tz;
    showReport(run);
    $("eod-report").scrollIntoView({ block: "start" });
  } catch (error) {
    banner(`Could not open that run: ${error.message}`, "bad");
  }
}

async function loadRuns() {
  const runs = (await api.get("/api/reconciliations?limit=20")).data || [];
  $("runs").replaceChildren(
    ...runs.map((run) =>
      el(
        "tr",
        { dataset: { runId: run.id } },
        el("td", {}, el("button", { type: "button", className: "link-button", onclick: () => openRun(run.id) }, run.date)),
        el("td", {}, run.fix ? "Fix" : "Dry run", run.trigger === "schedule" ? el("span", { className: "muted small" }, " · daily") : null),
        el("td", {}, time(run.created)),
        el("td", { className: "muted small" }, run.trigger === "schedule" ? "schedule" : run.requested_by || "—"),
        el("td", { className: "num" }, run.discrepancy_count ?? "—"),
        el("td", {}, el("span", { className: `badge ${run.status === "done" ? (run.discrepancy_count ? "tone-warn" : "tone-good") : run.status === "failed" ? "tone-bad" : ""}` }, run.status === "done" ? (run.discrepancy_count ? "Issues" : "Clean") : run.status)),
      ),
    ),
  );
  $("runs-empty").hidden = runs.length > 0;
}

if (session.operator.role !== "admin") {
  $("eod").hidden = true;
  $("admin-only").hidden = false;
} else {
  $("eod-date").value = today();
  $("eod-date").max = today();
  $("eod-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runReconciliation(false);
  });
  $("apply-fixes").addEventListener("click", () => runReconciliation(true));
  await loadRuns();
  document.body.dataset.ready = "true";
}
