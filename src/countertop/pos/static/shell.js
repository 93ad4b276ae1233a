// What every signed-in page shares: the session, the header, the location picker, live streams.
import { api, currentSession, getConfig, mayHaveSession, signOut } from "./api.js";

const LOCATION_KEY = "countertop.location";

export function $(id) {
  return document.getElementById(id);
}

// Build an element: el("td", { className: "num" }, "text", child, ...). Text is never parsed as HTML.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function showError(target, error) {
  const node = typeof target === "string" ? $(target) : target;
  if (!error) {
    node.hidden = true;
    node.textContent = "";
    return;
  }
  node.textContent = typeof error === "string" ? error : error.message;
  node.hidden = false;
}

let bannerTimer = null;
export function banner(message, tone = "info") {
  const node = $("banner");
  if (!node) return;
  clearTimeout(bannerTimer);
  node.textContent = message;
  node.dataset.tone = tone;
  node.hidden = !message;
  if (message && tone !== "bad") bannerTimer = setTimeout(() => (node.hidden = true), 5000);
}

// Signs the page in (or sends it to the sign-in page) and fills the header.
export async function startPage() {
  let operator;
  if (!mayHaveSession()) {
    // Never signed in from this browser: straight to the sign-in page, no request needed.
    window.location.replace("/");
    return new Promise(() => {});
  }
  try {
    operator = await currentSession();
  } catch {
    window.location.replace("/");
    return new Promise(() => {});
  }
  const [config, locations] = await Promise.all([getConfig(), api.get("/api/locations")]);
  const all = locations.data || [];
  $("operator-name").textContent = `${operator.name}${operator.role === "admin" ? " · admin" : ""}`;
  for (const id of ["nav-fleet", "nav-configurations", "nav-end-of-day"]) $(id).hidden = operator.role !== "admin";
  $("sign-out").addEventListener("click", async () => {
    await signOut();
    window.location.assign("/");
  });
  let location = localStorage.getItem(LOCATION_KEY);
  if (!all.some((loc) => loc.id === location)) location = all.length ? all[0].id : null;
  if (location) localStorage.setItem(LOCATION_KEY, location);
  const picker = $("location-select");
  for (const loc of all) picker.append(el("option", { value: loc.id }, loc.display_name || loc.id));
  picker.value = location || "";
  $("location-picker").hidden = all.length < 2;
  const only = all.length === 1 ? all[0] : null;
  $("location-name").textContent = only ? only.display_name || only.id : "";
  $("location-name").hidden = !only;
  picker.addEventListener("change", () => {
    localStorage.setItem(LOCATION_KEY, picker.value);
    window.location.reload();
  });
  return { operator, config, locations: all, location };
}

// Follows a Server-Sent Events stream; reconnects on its own, calls onOpen after every (re)connect so
// the page can re-read what it may have missed.
export function follow(url, handlers, { onOpen, onState } = {}) {
  let source = null;
  let retryTimer = null;
  let closed = false;
  const open = () => {
    if (closed) return;
    source = new EventSource(url);
    source.addEventListener("open", () => {
      onState?.(true);
      onOpen?.();
    });
    for (const [name, handler] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        handler(data);
      });
    }
    source.addEventListener("error", () => {
      onState?.(false);
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        retryTimer = setTimeout(open, 3000);
      }
    });
  };
  open();
  window.addEventListener("pagehide", () => close());
  const close = () => {
    closed = true;
    clearTimeout(retryTimer);
    source?.close();
  };
  return { close };
}
