// Fleet (admins): locations and readers, so readers can be registered without the Stripe Dashboard.
import { api } from "./api.js";
import { deviceName, relativeAge } from "./format.js";
import { $, banner, el, showError, startPage } from "./shell.js";

const session = await startPage();
let locations = session.locations;
let readers = [];
let editingReader = null;
let confirmingRemove = null;

function locationName(id) {
  return locations.find((loc) => loc.id === id)?.display_name || id || "—";
}

async function loadReaders() {
  const lists = await Promise.all(locations.map((loc) => api.get(`/api/readers?location=${encodeURIComponent(loc.id)}`)));
  readers = lists
    .flatMap((list) => list.data || [])
    .sort((a, b) => locationName(a.location).localeCompare(locationName(b.location)) || (a.label || "").localeCompare(b.label || ""));
  renderReaders();
}

async function loadLocations() {
  locations = (await api.get("/api/locations")).data || [];
  renderLocations();
}

function renderReaders() {
  $("fleet-readers").replaceChildren(...readers.map(readerRow));
  $("fleet-readers-empty").hidden = readers.length > 0;
}

function readerRow(reader) {
  const state = reader.status === "online" ? (reader.busy_order_id ? "busy" : "ready") : "offline";
  const editing = editingReader === reader.id;
  const labelCell = editing
    ? el(
        "form",
        { className: "inline-form", onsubmit: (event) => rename(event, reader) },
        el("input", { value: reader.label || "", ariaLabel: "New label", maxLength: 100, required: true, className: "rename-input" }),
        el("button", { type: "submit", className: "btn btn-small btn-primary" }, "Save"),
        el("button", { type: "button", className: "btn btn-small btn-quiet", onclick: () => ((editingReader = null), renderReaders()) }, "Cancel"),
      )
    : el("strong", {}, reader.label || "—");
  const removing = confirmingRemove === reader.id;
  return el(
    "tr",
    { dataset: { readerId: reader.id } },
    el("td", {}, labelCell),
    el("td", {}, deviceName(reader.device_type)),
    el("td", { className: "mono" }, reader.serial_number || "—"),
    el("td", {}, locationName(reader.location)),
    el("td", {}, el("span", { className: `pill pill-${state}` }, { ready: "Online", busy: "Busy", offline: "Offline" }[state])),
    el("td", {}, relativeAge(reader.last_seen_at)),
    el(
      "td",
      { className: "row-actions" },
      editing ? null : el("button", { type: "button", className: "btn btn-small btn-quiet", onclick: () => ((editingReader = reader.id), renderReaders(), document.querySelector(".rename-input")?.focus()) }, "Rename"),
      el(
        "button",
        { type: "button", className: `btn btn-small ${removing ? "btn-danger" : "btn-quiet"}`, onclick: () => remove(reader) },
        removing ? "Confirm remove" : "Remove",
      ),
    ),
  );
}

async function rename(event, reader) {
  event.preventDefault();
  const label = event.target.querySelector("input").value.trim();
  if (!label) return;
  try {
    await api.patch(`/api/readers/${reader.id}`, { label });
    editingReader = null;
    banner(`Renamed to ${label}.`, "good");
    await loadReaders();
  } catch (error) {
    banner(`Could not rename: ${error.message}`, "bad");
  }
}

async function remove(reader) {
  if (confirmingRemove !== reader.id) {
    confirmingRemove = reader.id;
    return renderReaders();
  }
  confirmingRemove = null;
  try {
    await api.del(`/api/readers/${reader.id}`);
    banner(`${reader.label || reader.id} was removed.`, "good");
    await loadReaders();
  } catch (error) {
    banner(`Could not remove: ${error.message}`, "bad");
    renderReaders();
  }
}

function renderLocations() {
  $("fleet-locations").replaceChildren(
    ...locations.map((loc) => {
      const address = loc.address || {};
      const line = [address.line1, address.city, address.state, address.postal_code, address.country].filter(Boolean).join(", ");
      const count = readers.filter((r) => r.location === loc.id).length;
      return el(
        "li",
        { dataset: { locationId: loc.id } },
        el("div", {}, el("strong", {}, loc.display_name), el("div", { className: "muted small" }, line || "No address"), el("div", { className: "muted small mono" }, `${loc.id} · ${count} reader${count === 1 ? "" : "s"}`)),
        el("button", { type: "button", className: "btn btn-small btn-quiet", onclick: () => editLocation(loc) }, "Edit"),
      );
    }),
  );
  const select = $("reg-location");
  const chosen = select.value || session.location;
  select.replaceChildren(...locations.map((loc) => el("option", { value: loc.id }, loc.display_name)));
  if (chosen) select.value = chosen;
}

function editLocation(loc) {
  const address = loc.address || {};
  $("loc-id").value = loc.id;
  $("loc-name").value = loc.display_name || "";
  $("loc-line1").value = address.line1 || "";
  $("loc-city").value = address.city || "";
  $("loc-state").value = address.state || "";
  $("loc-postal").value = address.postal_code || "";
  $("loc-country").value = address.country || "";
  $("loc-country").disabled = true; // Stripe does not let a location change country.
  $("location-form-title").textContent = `Edit ${loc.display_name}`;
  $("location-submit").textContent = "Save location";
  $("location-cancel").hidden = false;
  $("loc-name").focus();
}

function resetLocationForm() {
  $("location-form").reset();
  $("loc-id").value = "";
  $("loc-country").disabled = false;
  $("location-form-title").textContent = "New location";
  $("location-submit").textContent = "Create location";
  $("location-cancel").hidden = true;
  showError("location-error", null);
}

$("location-cancel").addEventListener("click", resetLocationForm);
$("location-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = $("loc-id").value;
  const name = $("loc-name").value.trim();
  const address = {
    line1: $("loc-line1").value.trim(),
    city: $("loc-city").value.trim(),
    state: $("loc-state").value.trim(),
    postal_code: $("loc-postal").value.trim(),
    country: $("loc-country").value.trim().toUpperCase(),
  };
  if (!name || !address.line1 || address.country.length !== 2)
    return showError("location-error", "Give the location a name, a street and a two-letter country code.");
  try {
    if (id) {
      // The country goes along unchanged (the API needs a whole address; Stripe keeps the country).
      await api.patch(`/api/locations/${id}`, { display_name: name, address });
      banner(`Saved ${name}.`, "good");
    } else {
      await api.post("/api/locations", { display_name: name, address });
      banner(`Created ${name}.`, "good");
    }
    resetLocationForm();
    await loadLocations();
  } catch (error) {
    showError("location-error", error.message);
  }
});

$("register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { registration_code: $("reg-code").value.trim(), label: $("reg-label").value.trim(), location: $("reg-location").value };
  if (!body.registration_code || !body.label || !body.location)
    return showError("register-error", "Enter the code shown on the reader, a label and a location.");
  showError("register-error", null);
  const button = $("register-submit");
  button.disabled = true;
  try {
    const reader = await api.post("/api/readers", body);
    banner(`Registered ${reader.label || body.label}.`, "good");
    $("register-form").reset();
    await loadReaders();
    renderLocations();
  } catch (error) {
    showError("register-error", error.message);
  } finally {
    button.disabled = false;
  }
});

if (session.operator.role !== "admin") {
  $("fleet").hidden = true;
  $("fleet-forbidden").hidden = false;
} else {
  if (session.config.simulator) {
    $("register-hint").textContent =
      "On the reader, open Settings and choose “Generate pairing code”. In demo mode, use simulated-s700 or simulated-wpe for a simulated reader.";
  }
  renderLocations();
  await loadReaders();
  renderLocations();
  setInterval(() => loadReaders().catch(() => {}), 10000);
}
