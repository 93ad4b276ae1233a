// The till: build a sale, charge it on a reader, follow the payment live.
import { api } from "./api.js";
import { Cart } from "./cart.js";
import { money, parseAmount } from "./format.js";
import { paymentView, renderPayment } from "./payment.js";
import { ReaderList } from "./readers.js";
import { $, banner, follow, showError, startPage } from "./shell.js";

const CURRENT_KEY = "countertop.currentSale";
const START_ERRORS = {
  reader_busy: (p) => `The reader is busy with order ${p.order_id || "of another till"}. Choose another reader, or clear it if that sale was abandoned.`,
  reader_offline: () => "The reader is offline. Check that it is switched on and connected, then try again.",
  stripe_unavailable: () => "Stripe could not be reached. Nothing was charged; press Charge again.",
  payment_in_progress: () => "This sale already has a payment in progress.",
};

class Till {
  constructor(session) {
    this.location = session.location;
    this.config = session.config;
    this.currency = session.config.currency || "usd";
    this.order = null; // the order being paid, as the API last reported it
    this.attemptId = null;
    this.presenting = false;
    this.pending = null; // an order created for this cart whose payment did not start
    this.busy = false;
    this.live = false;
    this.cart = new Cart(this.currency, () => this.updateCharge());
    this.readers = new ReaderList(this.location, () => this.updateCharge());
    $("charge").addEventListener("click", () => this.charge());
    $("retry").addEventListener("click", () => this.act("retry"));
    $("cancel-payment").addEventListener("click", () => this.act("cancel"));
    $("capture").addEventListener("click", () => this.capture());
    $("new-sale").addEventListener("click", () => this.newSale());
    $("sim-present").addEventListener("click", () => this.present());
    $("simulator").hidden = !this.config.simulator;
  }

  async start() {
    await this.readers.refresh();
    const saved = sessionStorage.getItem(CURRENT_KEY);
    if (saved) {
      const { orderId, attemptId } = JSON.parse(saved);
      try {
        this.attemptId = attemptId;
        this.show(await api.get(`/api/orders/${orderId}`));
      } catch {
        sessionStorage.removeItem(CURRENT_KEY);
      }
    }
    if (this.location) {
      follow(
        `/api/locations/${encodeURIComponent(this.location)}/events`,
        { reader: (reader) => this.readers.update(reader), order: (order) => this.order?.id === order.id && this.show(order) },
        { onOpen: () => this.resync(), onState: (live) => this.setLive(live) },
      );
    }
    // A safety net under the live stream: re-read now and then (a reader that loses power sends no
    // event; only asking Stripe shows it offline), and more often while the stream is down.
    let lastRead = Date.now();
    setInterval(() => {
      if (Date.now() - lastRead < (this.live ? 10000 : 4000)) return;
      lastRead = Date.now();
      this.readers.refresh().catch(() => {});
    }, 1000);
    setInterval(() => this.order && this.isActive() && this.reloadOrder(), 3000);
  }

  setLive(live) {
    this.live = live;
    $("live-state").dataset.live = String(live);
  }

  async resync() {
    await Promise.allSettled([this.readers.refresh(), this.order ? this.reloadOrder() : null]);
  }

  async reloadOrder() {
    const id = this.order?.id;
    if (!id) return;
    try {
      const order = await api.get(`/api/orders/${id}`);
      if (this.order?.id === id) this.show(order); // not if the operator moved on meanwhile
    } catch {
      // The next tick or event brings it.
    }
  }

  isActive() {
    return ["created", "on_reader", "authorized"].includes(this.attempt()?.status) || this.order?.status === "in_payment";
  }

  attempt() {
    const attempts = this.order?.attempts || [];
    return attempts.find((a) => a.id === this.attemptId) || attempts.at(-1) || null;
  }

  readerLabel(id) {
    const reader = this.readers.readers.get(id);
    return reader ? reader.label || reader.serial_number : null;
  }

  show(order) {
    // History only grows: a snapshot with less of it is older than the one on screen.
    const shown = this.order?.id === order.id ? (this.order.history || []).length : 0;
    if ((order.history || []).length < shown) return;
    this.order = order;
    const attempt = this.attempt();
    if (attempt) this.attemptId = attempt.id;
    if (!attempt || attempt.status !== "on_reader") this.presenting = false;
    if (this.readers.ownOrderId !== order.id) {
      this.readers.ownOrderId = order.id;
      this.readers.render();
    }
    sessionStorage.setItem(CURRENT_KEY, JSON.stringify({ orderId: order.id, attemptId: this.attemptId }));
    const view = paymentView(order, this.attemptId, { presenting: this.presenting, readerLabel: this.readerLabel(attempt?.reader) });
    renderPayment(view, order);
    this.cart.lock(true);
    this.updateCharge();
  }

  showMessage(state, title, detail, actions = []) {
    renderPayment({ state, title, detail, actions }, null);
  }

  updateCharge() {
    if (!this.cart || !this.readers) return; // still being built
    const button = $("charge");
    const total = this.cart.total;
    let hint = null;
    if (this.order) hint = "This sale is being paid: retry, cancel or start a new sale from the payment panel.";
    else if (total <= 0) hint = this.cart.mode === "cart" ? "Add items to the sale." : "Key in the amount to charge.";
    else hint = this.readers.blocker();
    button.disabled = Boolean(hint) || this.busy;
    button.textContent = total > 0 ? `Charge ${money(total, this.currency)}` : "Charge";
    $("charge-hint").textContent = hint || `Ready to charge on ${this.readers.selected.label || "the reader"}.`;
    $("charge-hint").dataset.tone = hint && total > 0 && !this.order ? "warn" : "";
    const simReader = this.attempt()?.reader || this.readers.selectedId;
    $("sim-present").disabled = !simReader || this.presenting || !(this.attempt()?.status === "on_reader");
  }

  async charge() {
    if ($("charge").disabled) return;
    const reader = this.readers.selected;
    const body = this.cart.orderBody(this.location);
    const signature = JSON.stringify(body);
    this.busy = true;
    this.updateCharge();
    this.showMessage("sending", "Sending sale to the reader…", `Showing the cart on ${reader.label || "the reader"}.`);
    try {
      if (!this.pending || this.pending.signature !== signature) {
        const key = api.newKey();
        this.pending = { signature, order: await api.post("/api/orders", body, { idempotencyKey: key }) };
      }
      const order = this.pending.order;
      this.readers.ownOrderId = order.id; // the reader's hold by this order is ours, not another till's
      const attempt = await api.post(`/api/orders/${order.id}/payments`, { reader: reader.id });
      this.pending = null;
      this.attemptId = attempt.id;
      this.show({ ...order, status: "in_payment", attempts: [attempt] });
      $("payment-state").scrollIntoView({ block: "nearest" });
      this.reloadOrder();
    } catch (error) {
      this.readers.ownOrderId = null;
      const explain = START_ERRORS[error.code];
      this.showMessage("error", "Payment not started", explain ? explain(error.problem) : error.message);
      this.readers.refresh().catch(() => {});
    } finally {
      this.busy = false;
      this.updateCharge();
    }
  }

  async act(action) {
    const attempt = this.attempt();
    if (!attempt) return;
    const buttons = [$("retry"), $("cancel-payment")];
    buttons.forEach((b) => (b.disabled = true));
    try {
      const body = action === "retry" ? { reader: this.readers.selected?.id || attempt.reader } : {};
      await api.post(`/api/orders/${this.order.id}/payments/${attempt.id}/${action}`, body);
      await this.reloadOrder();
    } catch (error) {
      const explain = START_ERRORS[error.code];
      banner(explain ? explain(error.problem) : error.message, "bad");
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  async capture() {
    try {
      await api.post(`/api/orders/${this.order.id}/capture`);
      await this.reloadOrder();
    } catch (error) {
      banner(`Capture failed: ${error.message}`, "bad");
    }
  }

  newSale() {
    // After a cancel the operator usually wants to charge the same sale again.
    const keepCart = this.order?.status === "canceled" || this.attempt()?.status === "canceled";
    const previous = this.order;
    this.order = null;
    this.attemptId = null;
    this.presenting = false;
    this.readers.ownOrderId = null;
    sessionStorage.removeItem(CURRENT_KEY);
    const reusable = keepCart && previous?.status === "open" ? previous : null;
    this.cart.lock(false);
    if (!keepCart) this.cart.clear();
    // The same cart charged again pays the same (still open) order rather than a new one.
    this.pending = reusable ? { signature: JSON.stringify(this.cart.orderBody(this.location)), order: reusable } : null;
    renderPayment({ state: "idle", title: "Ready", detail: "Build the sale, choose a reader, then press Charge." }, null);
    this.readers.refresh().catch(() => {});
    $("item-description").focus();
  }

  async present() {
    const readerId = this.attempt()?.reader || this.readers.selectedId;
    const tipText = $("sim-tip").value.trim();
    const tip = tipText ? parseAmount(tipText, this.currency) : 0;
    if (tip === null) return showError("sim-error", "Enter the tip as an amount, for example 2.00.");
    showError("sim-error", null);
    this.presenting = true;
    if (this.order) this.show(this.order);
    try {
      const body = { card_number: $("sim-card").value, type: "card_present" };
      if (tip) body.amount_tip = tip;
      await api.post(`/api/readers/${readerId}/simulate`, body);
    } catch (error) {
      this.presenting = false;
      showError("sim-error", error.message);
    }
    if (this.order) await this.reloadOrder();
    this.updateCharge();
  }
}

const session = await startPage();
const till = new Till(session);
await till.start();
