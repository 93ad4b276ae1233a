// The sale being built: cart lines and tax, or a keyed-in amount.
import { money, parseAmount } from "./format.js";
import { $, el, showError } from "./shell.js";

export class Cart {
  constructor(currency, onChange) {
    this.currency = currency;
    this.onChange = onChange;
    this.mode = "cart";
    this.lines = [];
    this.taxBasisPoints = 0;
    this.keyed = null;
    this.locked = false;
    this.wire();
    this.render();
  }

  wire() {
    $("item-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addFromForm();
    });
    $("mode-cart").addEventListener("click", () => this.setMode("cart"));
    $("mode-amount").addEventListener("click", () => this.setMode("amount"));
    $("tax-rate").addEventListener("input", () => {
      const text = $("tax-rate").value.trim();
      const match = text.match(/^(\d{1,2})(?:\.(\d{0,2}))?$/);
      this.taxBasisPoints = match ? Number(match[1]) * 100 + Number((match[2] || "").padEnd(2, "0")) : 0;
      this.render();
    });
    $("keyed-amount").addEventListener("input", () => {
      this.keyed = parseAmount($("keyed-amount").value, this.currency);
      this.render();
    });
    $("clear-cart").addEventListener("click", () => this.clear());
  }

  setMode(mode) {
    if (this.locked) return;
    this.mode = mode;
    $("mode-cart").setAttribute("aria-pressed", String(mode === "cart"));
    $("mode-amount").setAttribute("aria-pressed", String(mode === "amount"));
    $("cart-entry").hidden = mode !== "cart";
    $("amount-entry").hidden = mode !== "amount";
    (mode === "cart" ? $("item-description") : $("keyed-amount")).focus();
    this.render();
  }

  addFromForm() {
    const description = $("item-description").value.trim();
    const quantity = Number($("item-quantity").value);
    const unitAmount = parseAmount($("item-price").value, this.currency);
    if (!description) return showError("item-error", "Give the item a name.");
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > 999)
      return showError("item-error", "Quantity must be a whole number from 1 to 999.");
    if (unitAmount === null || unitAmount <= 0) return showError("item-error", "Enter the price, for example 3.50.");
    showError("item-error", null);
    const same = this.lines.find((line) => line.description === description && line.unit_amount === unitAmount);
    if (same) same.quantity += quantity;
    else this.lines.push({ description, quantity, unit_amount: unitAmount });
    $("item-description").value = "";
    $("item-quantity").value = "1";
    $("item-price").value = "";
    $("item-description").focus();
    this.render();
  }

  changeQuantity(index, delta) {
    const line = this.lines[index];
    line.quantity += delta;
    if (line.quantity < 1) this.lines.splice(index, 1);
    this.render();
  }

  get subtotal() {
    return this.lines.reduce((sum, line) => sum + line.quantity * line.unit_amount, 0);
  }

  get tax() {
    return Math.round((this.subtotal * this.taxBasisPoints) / 10000);
  }

  get total() {
    return this.mode === "cart" ? this.subtotal + this.tax : this.keyed || 0;
  }

  // The body of POST /api/orders for this sale.
  orderBody(location) {
    if (this.mode === "amount") return { location, currency: this.currency, amount: this.keyed };
    return { location, currency: this.currency, line_items: this.lines.map((line) => ({ ...line })), tax: this.tax };
  }

  lock(locked) {
    this.locked = locked;
    for (const id of ["item-description", "item-quantity", "item-price", "add-item", "tax-rate", "keyed-amount", "mode-cart", "mode-amount", "clear-cart"]) {
      $(id).disabled = locked;
    }
    this.render();
  }

  clear() {
    this.lines = [];
    this.keyed = null;
    $("keyed-amount").value = "";
    $("tax-rate").value = "0";
    this.taxBasisPoints = 0;
    showError("item-error", null);
    this.render();
  }

  render() {
    const body = $("cart-lines");
    body.replaceChildren(
      ...this.lines.map((line, index) =>
        el(
          "tr",
          {},
          el("td", { className: "cart-desc" }, line.description, el("div", { className: "muted small" }, `${money(line.unit_amount, this.currency)} each`)),
          el(
            "td",
            { className: "cart-qty" },
            el("button", { type: "button", className: "btn btn-icon", ariaLabel: `One less ${line.description}`, disabled: this.locked, onclick: () => this.changeQuantity(index, -1) }, "−"),
            el("span", { className: "qty" }, String(line.quantity)),
            el("button", { type: "button", className: "btn btn-icon", ariaLabel: `One more ${line.description}`, disabled: this.locked, onclick: () => this.changeQuantity(index, 1) }, "+"),
          ),
          el("td", { className: "num" }, money(line.quantity * line.unit_amount, this.currency)),
        ),
      ),
    );
    $("cart-empty").hidden = this.lines.length > 0;
    $("subtotal").textContent = money(this.subtotal, this.currency);
    $("tax").textContent = money(this.tax, this.currency);
    $("total").textContent = money(this.total, this.currency);
    this.onChange?.();
  }
}
