// Orders: the day's sales for the location, live.
import { api } from "./api.js";
import { cardLabel, money, orderStatus, statusTone, time, today } from "./format.js";
import { $, el, follow, startPage } from "./shell.js";

const session = await startPage();
const orders = new Map();
const dateInput = $("filter-date");
const statusInput = $("filter-status");
dateInput.value = today();

async function load() {
  if (!session.location) return render();
  const query = new URLSearchParams({ location: session.location, date: dateInput.value || today() });
  if (statusInput.value) query.set("status", statusInput.value);
  const list = await api.get(`/api/orders?${query}`);
  orders.clear();
  for (const order of list.data || []) orders.set(order.id, order);
  render();
}

function matches(order) {
  return !statusInput.value || order.status === statusInput.value;
}

function render() {
  const rows = [...orders.values()].sort((a, b) => String(b.created).localeCompare(String(a.created)));
  $("orders-body").replaceChildren(
    ...rows.map((order) =>
      el(
        "tr",
        { className: "clickable", dataset: { orderId: order.id } },
        el("td", {}, time(order.created)),
        el("td", {}, el("a", { href: `/orders/${order.id}`, className: "mono" }, order.id)),
        el("td", {}, el("span", { className: `badge tone-${statusTone(order.status)}` }, orderStatus(order.status))),
        el("td", { className: "num" }, money(order.total, order.currency)),
        el("td", { className: "num" }, order.tip ? money(order.tip, order.currency) : "—"),
        el("td", {}, cardLabel(order.card)),
      ),
    ),
  );
  $("orders-empty").hidden = rows.length > 0;
  const paid = rows.filter((o) => ["paid", "partially_refunded", "refunded"].includes(o.status));
  const currency = session.config.currency || "usd";
  const takings = paid.reduce((sum, o) => sum + (o.amount_captured || 0) - (o.amount_refunded || 0), 0);
  const tips = paid.reduce((sum, o) => sum + (o.tip || 0), 0);
  $("orders-summary").replaceChildren(
    el("div", { className: "stat" }, el("span", {}, "Orders"), el("strong", {}, String(rows.length))),
    el("div", { className: "stat" }, el("span", {}, "Paid"), el("strong", {}, String(paid.length))),
    el("div", { className: "stat" }, el("span", {}, "Takings (net of refunds)"), el("strong", {}, money(takings, currency))),
    el("div", { className: "stat" }, el("span", {}, "Tips"), el("strong", {}, money(tips, currency))),
  );
}

$("orders-body").addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-order-id]");
  if (row && !event.target.closest("a")) window.location.assign(`/orders/${row.dataset.orderId}`);
});
$("filters").addEventListener("change", () => load());
$("filters").addEventListener("submit", (event) => event.preventDefault());

await load();
if (session.location) {
  follow(
    `/api/locations/${encodeURIComponent(session.location)}/events`,
    {
      order: (order) => {
        if (dateInput.value !== today()) return;
        if (matches(order)) orders.set(order.id, order);
        else orders.delete(order.id);
        render();
      },
    },
    { onOpen: () => load().catch(() => {}) },
  );
}
