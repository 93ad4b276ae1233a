// Reader configurations (admins): update window, tipping presets and splash screen; which location uses which.
import { api } from "./api.js";
import { money, parseAmount, plainAmount } from "./format.js";
import { $, banner, el, showError, startPage } from "./shell.js";

const session = await startPage();
let configs = [];
let locations = session.locations;
let editing = null;

function hourLabel(hour) {
  return `${String(hour).padStart(2, "0")}:00`;
}

function windowLabel(window) {
  return window ? `${hourLabel(window.start_hour)} – ${hourLabel(window.end_hour)}` : "Stripe’s default";
}

function tippingLabel(tipping) {
  const entries = Object.entries(tipping || {});
  if (!entries.length) return [el("span", { className: "muted" }, "Off")];
  return entries.map(([cur, presets]) => {
    const parts = [];
    if (presets.fixed_amounts?.length) parts.push(presets.fixed_amounts.map((a) => money(a, cur)).join(" · "));
    if (presets.percentages?.length) parts.push(presets.percentages.map((p) => `${p}%`).join(" · "));
    if (presets.smart_tip_threshold !== undefined && presets.smart_tip_threshold !== null)
      parts.push(`Percentages from ${money(presets.smart_tip_threshold, cur)}`);
    return el("div", { className: "tip-line" }, el("strong", {}, cur.toUpperCase()), ...(parts.length ? parts : ["—"]).map((part) => el("span", {}, part)));
  });
}

function usedBy(config) {
  const names = locations.filter((loc) => loc.configuration === config.id).map((loc) => loc.display_name);
  if (config.is_account_default) names.unshift("Account default");
  return names.length ? names.join(", ") : el("span", { className: "muted" }, "No location");
}

function renderConfigs() {
  $("config-rows").replaceChildren(
    ...configs.map((config) =>
      el(
        "tr",
        { dataset: { configurationId: config.id } },
        el("td", {}, el("strong", {}, config.name || "Unnamed"), el("div", { className: "muted small mono nowrap" }, config.id)),
        el("td", { className: "nowrap" }, windowLabel(config.reboot_window)),
        el("td", {}, tippingLabel(config.tipping)),
        el("td", { className: "mono" }, config.splashscreen || el("span", { className: "muted" }, "Default")),
        el("td", {}, usedBy(config)),
        el("td", { className: "row-actions" }, el("button", { type: "button", className: "btn btn-small btn-quiet", onclick: () => edit(config) }, "Edit")),
      ),
    ),
  );
  $("configs-empty").hidden = configs.length > 0;
}

function renderAssignments() {
  $("assignments").replaceChildren(
    ...locations.map((loc) => {
      const select = el(
        "select",
        { ariaLabel: `Configuration for ${loc.display_name}`, className: "assign-select", onchange: (event) => assign(loc, event.target) },
        el("option", { value: "" }, "Account default"),
        ...configs.filter((c) => !c.is_account_default).map((c) => el("option", { value: c.id }, c.name || c.id)),
      );
      select.value = loc.configuration || "";
      return el(
        "li",
        { dataset: { locationId: loc.id } },
        el("div", {}, el("strong", {}, loc.display_name), el("div", { className: "muted small mono" }, loc.id)),
        select,
      );
    }),
  );
}

async function load() {
  const [list, locs] = await Promise.all([api.get("/api/reader-configurations"), api.get("/api/locations")]);
  configs = list.data || [];
  locations = locs.data || [];
  renderConfigs();
  renderAssignments();
}

async function assign(loc, select) {
  const configuration = select.value || null;
  select.disabled = true;
  try {
    await api.put(`/api/locations/${encodeURIComponent(loc.id)}/configuration`, { configuration });
    const name = configs.find((c) => c.id === configuration)?.name || "the account default";
    banner(`${loc.display_name} now uses ${name}.`, "good");
    await load();
  } catch (error) {
    banner(`Could not change ${loc.display_name}: ${error.message}`, "bad");
    select.value = loc.configuration || "";
  } finally {
    select.disabled = false;
  }
}

function edit(config) {
  editing = config;
  const [cur, presets] = Object.entries(config.tipping || {})[0] || [session.config.currency || "usd", {}];
  $("cfg-id").value = config.id;
  $("cfg-name").value = config.name || "";
  $("cfg-start").value = config.reboot_window ? String(config.reboot_window.start_hour) : "";
  $("cfg-end").value = config.reboot_window ? String(config.reboot_window.end_hour) : "";
  $("cfg-currency").value = cur;
  $("cfg-fixed").value = (presets.fixed_amounts || []).map((a) => plainAmount(a, cur)).join(", ");
  $("cfg-percent").value = (presets.percentages || []).join(", ");
  $("cfg-threshold").value = presets.smart_tip_threshold == null ? "" : plainAmount(presets.smart_tip_threshold, cur);
  $("cfg-splash").value = config.splashscreen || "";
  $("config-form-title").textContent = `Edit ${config.name || config.id}`;
  $("config-submit").textContent = "Save configuration";
  $("config-cancel").hidden = false;
  showError("config-error", null);
  $("cfg-name").focus();
}

function resetForm() {
  editing = null;
  $("config-form").reset();
  $("cfg-id").value = "";
  $("cfg-currency").value = session.config.currency || "usd";
  $("config-form-title").textContent = "New configuration";
  $("config-submit").textContent = "Create configuration";
  $("config-cancel").hidden = true;
  showError("config-error", null);
}

// "1.00, 2" -> [100, 200]; throws with a message an admin can act on.
function list(text, parse, what) {
  const parts = text.split(/[,;\s]+/).filter(Boolean);
  if (parts.length > 3) throw new Error(`Give at most three ${what}.`);
  return parts.map((part) => {
    const value = parse(part);
    if (value === null) throw new Error(`“${part}” is not one of the ${what}.`);
    return value;
  });
}

function readForm() {
  const name = $("cfg-name").value.trim();
  if (!name) throw new Error("Give the configuration a name.");
  const body = { name };
  const start = $("cfg-start").value;
  const end = $("cfg-end").value;
  if ((start === "") !== (end === "")) throw new Error("Choose both hours of the update window, or neither.");
  if (start !== "") body.reboot_window = { start_hour: Number(start), end_hour: Number(end) };
  const cur = $("cfg-currency").value.trim().toLowerCase();
  if (!/^[a-z]{3}$/.test(cur)) throw new Error("The tipping currency is a three-letter code such as usd.");
  const presets = {};
  const fixed = list($("cfg-fixed").value, (t) => parseAmount(t, cur), "fixed amounts");
  const percentages = list($("cfg-percent").value, (t) => (/^\d{1,3}$/.test(t) && Number(t) <= 100 ? Number(t) : null), "percentages");
  if (fixed.length) presets.fixed_amounts = fixed;
  if (percentages.length) presets.percentages = percentages;
  const threshold = $("cfg-threshold").value.trim();
  if (threshold) {
    const amount = parseAmount(threshold, cur);
    if (amount === null) throw new Error("The smart-tip threshold is an amount, such as 10.00.");
    presets.smart_tip_threshold = amount;
  }
  if (Object.keys(presets).length) body.tipping = { [cur]: presets };
  const splash = $("cfg-splash").value.trim();
  if (splash && !/^file_[A-Za-z0-9]+$/.test(splash)) throw new Error("The splash screen is a Stripe file id (file_…).");
  if (splash || editing?.splashscreen) body.splashscreen = splash;
  return body;
}

$("config-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let body;
  try {
    body = readForm();
  } catch (error) {
    return showError("config-error", error.message);
  }
  const id = $("cfg-id").value;
  const button = $("config-submit");
  button.disabled = true;
  try {
    if (id) await api.patch(`/api/reader-configurations/${encodeURIComponent(id)}`, body);
    else await api.post("/api/reader-configurations", body);
    banner(`${id ? "Saved" : "Created"} ${body.name}.`, "good");
    resetForm();
    await load();
  } catch (error) {
    showError("config-error", error.message);
  } finally {
    button.disabled = false;
  }
});
$("config-cancel").addEventListener("click", resetForm);
$("new-config").addEventListener("click", () => {
  resetForm();
  $("cfg-name").focus();
});

if (session.operator.role !== "admin") {
  $("configs").hidden = true;
  $("admin-only").hidden = false;
} else {
  for (const id of ["cfg-start", "cfg-end"]) {
    $(id).append(el("option", { value: "" }, "—"), ...Array.from({ length: 24 }, (_, h) => el("option", { value: String(h) }, hourLabel(h))));
  }
  if (!$("cfg-currency").value) $("cfg-currency").value = session.config.currency || "usd";
  await load();
  document.body.dataset.ready = "true";
}
