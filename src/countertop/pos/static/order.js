// One order: its lines, payment attempts, history, refunds.
import { api } from "./api.js";
import { declineMessage } from "./declines.js";
import { attemptStatus, cardLabel, dateTime, money, orderStatus, parseAmount, plainAmount, statusTone } from "./format.js";
import { $, banner, el, follow, showError, startPage } from "./shell.js";

await startPage();
const orderId = document.body.dataset.orderId;
let order = null;
// Interac payments are refunded only with the customer's card on a reader (docs/api.md).
let inPerson = false;
let readersLoaded = false;
let waitingRefund = null;

function fact(label, value) {
  return [el("dt", {}, label), el("dd", {}, value)];
}

function refundable() {
  return Math.max(0, (order.amount_captured || 0) - (order.amount_refunded || 0));
}

function render() {
  const cur = order.currency;
  $("order-title").textContent = `Order ${order.id}`;
  const badge = $("order-status");
  badge.textContent = orderStatus(order.status);
  badge.className = `badge tone-${statusTone(order.status)}`;
  $("order-facts").replaceChildren(
    ...fact("Created", dateTime(order.created)),
    ...fact("Card", cardLabel(order.card)),
    ...fact("Captured", money(order.amount_captured, cur)),
    ...fact("Refunded", money(order.amount_refunded, cur)),
  );
  $("order-lines").replaceChildren(
    ...(order.line_items || []).map((line) =>
      el("tr", {}, el("td", {}, `${line.quantity} × ${line.description}`), el("td", { className: "num" }, money(line.quantity * line.unit_amount, cur))),
    ),
  );
  const row = (label, value, className = "") => el("div", { className: `row ${className}` }, el("span", {}, label), el("span", {}, value));
  $("order-totals").replaceChildren(
    row("Subtotal", money(order.subtotal, cur)),
    row("Tax", money(order.tax, cur)),
    row("Tip", money(order.tip, cur)),
    row("Total", money(order.total, cur), "grand"),
  );
  $("receipt-link").href = `/api/orders/${order.id}/receipt?format=html`;
  $("receipt-tools").hidden = order.amount_captured <= 0;
  const remaining = refundable();
  const form = $("refund-form");
  form.hidden = remaining <= 0;
  inPerson = inPerson || order.card?.brand === "interac";
  $("refund-reader-field").hidden = !inPerson;
  if (inPerson && remaining > 0 && !readersLoaded) loadReaders();
  $("refund-note").textContent =
    remaining > 0
      ? inPerson
        ? `Paid with Interac: the refund needs the customer's card on a reader. Up to ${money(remaining, cur)} can be refunded. Pick the reader, refund, then ask the customer to tap or insert the same card.`
        : `Up to ${money(remaining, cur)} can be refunded to the card. Leave the full amount for a full refund, or type a smaller one.`
      : order.amount_refunded > 0
        ? "This order has been fully refunded."
        : "Nothing has been captured on this order, so there is nothing to refund.";
  const amountInput = $("refund-amount");
  if (document.activeElement !== amountInput) amountInput.value = remaining > 0 ? plainAmount(remaining, cur) : "";
  updateRefundButton();
  $("capture-order").hidden = order.status !== "authorized";
  $("attempts-body").replaceChildren(
    ...(order.attempts || []).map((a) =>
      el(
        "tr",
        {},
        el("td", { className: "mono" }, a.id),
        el("td", {}, el("span", { className: `badge tone-${statusTone(a.status)}` }, attemptStatus(a.status))),
        el("td", { className: "mono" }, a.reader || "—"),
        el("td", { className: "mono" }, a.payment_intent || "—"),
        el("td", { className: "num" }, money(a.amount, cur)),
        el("td", { className: "num" }, a.tip ? money(a.tip, cur) : "—"),
        el("td", {}, a.last_error ? declineMessage(a.last_error) : a.capture_error ? `Capture: ${a.capture_error}` : "—"),
      ),
    ),
  );
  $("history-body").replaceChildren(
    ...(order.history || []).map((t) =>
      el(
        "tr",
        {},
        el("td", {}, dateTime(t.at)),
        el("td", {}, t.entity),
        el("td", {}, `${t.from || "—"} → ${t.to}`),
        el("td", {}, t.event),
        el("td", { className: "mono" }, t.cause || "—"),
      ),
    ),
  );
}

function updateRefundButton() {
  const amount = parseAmount($("refund-amount").value, order.currency);
  const button = $("refund-submit");
  const full = amount !== null && amount === refundable();
  const label = amount ? `${full ? "Refund in full" : "Refund"} ${money(amount, order.currency)}` : "Refund";
  button.textContent = inPerson && amount ? `${label} on the reader` : label;
  button.disabled = !amount || amount > refundable() || waitingRefund !== null || (inPerson && !$("refund-reader").value);
}

async function loadReaders() {
  readersLoaded = true;
  try {
    const { data } = await api.get(`/api/readers?location=${encodeURIComponent(order.location)}`);
    const select = $("refund-reader");
    const chosen = select.value;
    select.replaceChildren(
      ...data.map((r) => el("option", { value: r.id, disabled: r.status !== "online" }, `${r.label || r.id}${r.status !== "online" ? " (offline)" : ""}`)),
    );
    // The reader that took the payment comes first: the customer is most likely standing at it.
    const paidOn = (order.attempts || []).find((a) => a.reader && ["captured", "partially_refunded", "refunded"].includes(a.status))?.reader;
    const online = data.find((r) => r.id === paidOn && r.status === "online") || data.find((r) => r.status === "online");
    if (chosen) select.value = chosen;
    else if (online) select.value = online.id;
  } catch (error) {
    readersLoaded = false;
    showError("refund-error", `The readers could not be listed: ${error.message}`);
  }
  updateRefundButton();
}

const REFUND_PROBLEMS = {
  refund_exceeds_captured: "That is more than remains to refund.",
  refund_in_progress: "A refund of this payment is already waiting for the card on a reader.",
  reader_busy: "That reader is busy. Pick another or wait until it is free.",
  reader_offline: "That reader is offline. Check its power and network, or pick another.",
};

async function refundOnReader(amount) {
  const reader = $("refund-reader").value;
  const refund = await api.post(`/api/orders/${order.id}/in_person_refunds`, { reader, amount, reason: $("refund-reason").value });
  waitingRefund = refund.id;
  const waiting = $("refund-waiting");
  waiting.textContent = `Refund of ${money(amount, order.currency)} is on the reader: ask the customer to tap or insert the same Interac card.`;
  waiting.hidden = false;
  let current = refund;
  while (current.status === "pending") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      current = await api.get(`/api/orders/${order.id}/in_person_refunds/${refund.id}`);
    } catch {
      // a passing network failure: ask again
    }
  }
  waitingRefund = null;
  waiting.hidden = true;
  if (current.status === "succeeded") banner(`Refunded ${money(amount, order.currency)} to the Interac card.`, "good");
  else showError("refund-error", `The refund did not go through: ${current.failure?.message || current.status}.`);
}

async function load() {
  order = await api.get(`/api/orders/${encodeURIComponent(orderId)}`);
  render();
}

$("refund-amount").addEventListener("input", updateRefundButton);
$("refund-reader").addEventListener("change", updateRefundButton);
$("refund-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const amount = parseAmount($("refund-amount").value, order.currency);
  if (!amount || amount > refundable()) return showError("refund-error", `Enter an amount up to ${money(refundable(), order.currency)}.`);
  showError("refund-error", null);
  const button = $("refund-submit");
  button.disabled = true;
  try {
    if (inPerson) {
      await refundOnReader(amount);
    } else {
      await api.post(`/api/orders/${order.id}/refunds`, { amount, reason: $("refund-reason").value }, { idempotencyKey: api.newKey() });
      banner(`Refunded ${money(amount, order.currency)} to the card.`, "good");
    }
    $("refund-amount").blur();
    await load();
  } catch (error) {
    waitingRefund = null;
    $("refund-waiting").hidden = true;
    if (error.code === "refund_requires_card_present") {
      inPerson = true;
      render();
      showError("refund-error", "This payment was made with Interac: pick a reader and refund it with the customer's card.");
      return;
    }
    showError("refund-error", REFUND_PROBLEMS[error.code] || error.message);
    updateRefundButton();
  }
});
$("email-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const to = $("email-to").value.trim();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(to)) return showError("email-error", "Enter the customer's email address.");
  showError("email-error", null);
  $("email-send").disabled = true;
  try {
    await api.post(`/api/orders/${order.id}/receipt/email`, { to });
    banner(`Receipt sent to ${to}.`, "good");
    $("email-to").value = "";
  } catch (error) {
    showError("email-error", `The receipt was not sent: ${error.message}`);
  } finally {
    $("email-send").disabled = false;
  }
});
$("capture-order").addEventListener("click", async () => {
  try {
    await api.post(`/api/orders/${order.id}/capture`);
    await load();
  } catch (error) {
    banner(`Capture failed: ${error.message}`, "bad");
  }
});

try {
  await load();
  follow(`/api/orders/${encodeURIComponent(orderId)}/events`, { order: (next) => ((order = next), render()) }, { onOpen: () => load().catch(() => {}) });
} catch (error) {
  $("order-title").textContent = error.code === "not_found" ? "No such order" : "Could not load the order";
  banner(error.message, "bad");
}
