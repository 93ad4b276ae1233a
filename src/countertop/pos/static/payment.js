// The till's payment panel: what the reader and the payment are doing, in words, and what to do next.
import { declineMessage } from "./declines.js";
import { cardLabel, dateTime, money } from "./format.js";
import { $, el } from "./shell.js";

const FINAL_ORDER = ["paid", "partially_refunded", "refunded"];
const STEP_ORDER = ["sent", "waiting", "processing", "done"];

// The view of one payment, derived from the order (and its attempt) as the API reports it.
export function paymentView(order, attemptId, { presenting, readerLabel }) {
  const attempt = (order.attempts || []).find((a) => a.id === attemptId) || (order.attempts || []).at(-1) || null;
  const amount = money(order.total, order.currency);
  const where = readerLabel ? ` on ${readerLabel}` : "";
  if (FINAL_ORDER.includes(order.status) || attempt?.status === "captured") {
    return { state: "approved", title: "Approved", detail: `Payment captured${order.card ? ` · ${cardLabel(order.card)}` : ""}.`, step: "done", receipt: true, actions: ["new-sale"] };
  }
  if (order.status === "authorized" || attempt?.status === "authorized") {
    return { state: "approved", title: "Approved", detail: "The card is authorized; capturing the payment…", step: "done", receipt: true, actions: ["capture", "new-sale"] };
  }
  if (order.status === "canceled" || attempt?.status === "canceled") {
    return { state: "canceled", title: "Sale canceled", detail: "Nobody was charged. The reader is free again.", actions: ["new-sale"], amount };
  }
  if (attempt?.status === "declined") {
    return { state: "declined", title: "Declined", detail: declineMessage(attempt.last_error), actions: ["retry", "cancel-payment"], amount };
  }
  if (attempt?.status === "failed") {
    return { state: "failed", title: "Payment failed", detail: declineMessage(attempt.last_error), actions: ["retry", "cancel-payment"], amount };
  }
  if (presenting) {
    return { state: "processing", title: "Processing…", detail: "The card was read; waiting for the bank’s answer.", step: "processing", actions: [], amount };
  }
  if (attempt?.status === "on_reader") {
    return { state: "waiting", title: "Waiting for card", detail: `Ask the customer to tap, insert or swipe their card${where}.`, step: "waiting", actions: ["cancel-payment"], amount };
  }
  return { state: "sending", title: "Sending sale to the reader…", detail: `Showing the cart${where}.`, step: "sent", actions: ["cancel-payment"], amount };
}

const ICONS = { idle: "", sending: "", waiting: "", processing: "", approved: "✓", declined: "✕", failed: "!", canceled: "–", error: "!" };

export function renderPayment(view, order) {
  const panel = $("payment-state");
  panel.dataset.state = view.state;
  $("state-icon").textContent = ICONS[view.state] ?? "";
  $("state-title").textContent = view.title;
  $("state-detail").textContent = view.detail;
  $("state-amount").textContent = view.amount || "";
  const steps = $("steps");
  steps.hidden = !view.step;
  const reached = STEP_ORDER.indexOf(view.step);
  for (const item of steps.children) {
    const index = STEP_ORDER.indexOf(item.dataset.step);
    item.className = index < reached ? "done" : index === reached ? "current" : "";
    if (index === reached) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
  }
  for (const id of ["retry", "cancel-payment", "capture", "new-sale"]) $(id).hidden = !(view.actions || []).includes(id);
  $("new-sale").textContent = view.state === "canceled" ? "Back to the sale" : "New sale";
  // Keyboard users: when the focused control went away (or was disabled), offer the next step.
  const focused = document.activeElement;
  const lost = !focused || focused === document.body || focused.disabled || focused.closest("[hidden]");
  const next = (view.actions || []).map((id) => $(id)).find((button) => !button.hidden);
  if (lost && next) next.focus({ preventScroll: true });
  $("receipt").hidden = !view.receipt;
  if (view.receipt && order) renderReceipt(order);
  $("order-ref").replaceChildren(
    ...(order ? ["Order ", el("a", { href: `/orders/${order.id}` }, order.id)] : []),
  );
}

function renderReceipt(order) {
  const cur = order.currency;
  const row = (label, value, className = "") => el("div", { className: `row ${className}` }, el("span", {}, label), el("span", {}, value));
  const lines = (order.line_items || []).map((line) =>
    row(`${line.quantity} × ${line.description}`, money(line.quantity * line.unit_amount, cur)),
  );
  const captured = order.amount_captured > 0 || FINAL_ORDER.includes(order.status);
  $("receipt").replaceChildren(
    el("h3", {}, "Receipt"),
    ...lines,
    lines.length ? row("Subtotal", money(order.subtotal, cur), "sep") : null,
    order.tax ? row("Tax", money(order.tax, cur)) : null,
    order.tip ? row("Tip (added on reader)", money(order.tip, cur), "tip") : null,
    row("Total", money(order.total, cur), "grand"),
    row("Card", cardLabel(order.card)),
    row("Payment", captured ? "Captured" : "Authorized, not yet captured"),
    row("Date", dateTime(order.created)),
    el("a", { className: "receipt-link", href: `/api/orders/${order.id}/receipt?format=html`, target: "_blank", rel: "noopener" }, "Open printable receipt"),
  );
}
