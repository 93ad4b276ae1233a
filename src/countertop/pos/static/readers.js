// The till's reader list: live status of the location's readers, one of them selected.
import { api } from "./api.js";
import { deviceName } from "./format.js";
import { $, banner, el } from "./shell.js";

const SELECTED_KEY = "countertop.reader";

export class ReaderList {
  constructor(location, onChange) {
    this.location = location;
    this.onChange = onChange;
    this.readers = new Map();
    this.selectedId = localStorage.getItem(SELECTED_KEY);
    this.confirmingClear = null;
    this.ownOrderId = null;
  }

  async refresh() {
    if (!this.location) return this.render();
    const list = await api.get(`/api/readers?location=${encodeURIComponent(this.location)}`);
    this.readers = new Map((list.data || []).map((reader) => [reader.id, reader]));
    this.render();
  }

  update(reader) {
    if (reader.location && reader.location !== this.location) {
      this.readers.delete(reader.id);
    } else if (reader.deleted) {
      this.readers.delete(reader.id);
    } else {
      this.readers.set(reader.id, { ...this.readers.get(reader.id), ...reader });
    }
    this.render();
  }

  get selected() {
    return this.readers.get(this.selectedId) || null;
  }

  select(id) {
    this.selectedId = id;
    localStorage.setItem(SELECTED_KEY, id);
    this.render();
  }

  // Why the selected reader cannot take a new payment right now, or null when it can.
  blocker() {
    const reader = this.selected;
    if (!reader) return this.readers.size ? "Choose a reader." : "There is no reader at this location.";
    if (reader.status !== "online")
      return `${reader.label || "This reader"} is offline. Check that it is switched on and connected to the internet; Charge comes back when it is online.`;
    if (reader.busy_order_id && reader.busy_order_id !== this.ownOrderId)
      return `${reader.label || "This reader"} is busy with order ${reader.busy_order_id} on another till. Choose another reader, or clear it if that sale was abandoned.`;
    return null;
  }

  async clear(reader) {
    if (this.confirmingClear !== reader.id) {
      this.confirmingClear = reader.id;
      this.render();
      return;
    }
    this.confirmingClear = null;
    try {
      await api.post(`/api/readers/${reader.id}/clear`);
      banner(`${reader.label || "Reader"} is cleared.`, "good");
      await this.refresh();
    } catch (error) {
      banner(`Could not clear the reader: ${error.message}`, "bad");
      this.render();
    }
  }

  render() {
    const list = $("reader-list");
    const readers = [...this.readers.values()].sort((a, b) => (a.label || "").localeCompare(b.label || ""));
    if (!this.readers.has(this.selectedId) && readers.length) {
      const firstUsable = readers.find((reader) => reader.status === "online" && !reader.busy_order_id) || readers[0];
      this.selectedId = firstUsable.id;
    }
    list.replaceChildren(...readers.map((reader) => this.renderReader(reader)));
    $("readers-empty").hidden = readers.length > 0;
    this.onChange?.();
  }

  renderReader(reader) {
    const online = reader.status === "online";
    const busyElsewhere = reader.busy_order_id && reader.busy_order_id !== this.ownOrderId;
    const stuck = busyElsewhere || (reader.action && reader.action.status === "in_progress" && !this.ownOrderId);
    const mine = Boolean(reader.busy_order_id) && reader.busy_order_id === this.ownOrderId;
    const state = !online ? "offline" : busyElsewhere ? "busy" : mine ? "in-use" : "ready";
    const stateText = { offline: "Offline", busy: "Busy", "in-use": "This sale", ready: "Ready" }[state];
    const selected = reader.id === this.selectedId;
    const confirming = this.confirmingClear === reader.id;
    return el(
      "li",
      { className: `reader ${selected ? "selected" : ""}`, dataset: { readerId: reader.id, state } },
      el(
        "button",
        { type: "button", className: "reader-pick", ariaPressed: String(selected), onclick: () => this.select(reader.id) },
        el("span", { className: "reader-top" }, el("span", { className: "reader-label" }, reader.label || reader.serial_number || reader.id), el("span", { className: `pill pill-${state}` }, stateText)),
        el("span", { className: "reader-meta" }, deviceName(reader.device_type)),
        el("span", { className: "reader-meta mono" }, reader.serial_number || ""),
        busyElsewhere ? el("span", { className: "reader-busy" }, `Busy with order ${reader.busy_order_id}`) : null,
      ),
      stuck
        ? el(
            "button",
            { type: "button", className: `btn btn-small ${confirming ? "btn-danger" : "btn-quiet"} reader-clear`, onclick: () => this.clear(reader) },
            confirming ? "Confirm: cancel its payment" : "Clear reader",
          )
        : null,
    );
  }
}
