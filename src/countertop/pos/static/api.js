// The one door to the backend's JSON API (docs/api.md): session, CSRF header, problem details.

let csrfToken = null;
const SESSION_HINT = "countertop.signedIn";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.status = status;
    this.code = problem.code || "http_" + status;
    this.problem = problem;
  }
}

function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function request(method, path, body, { idempotencyKey, quiet401 } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { code: "network_error", detail: "The server cannot be reached. Check the connection and try again." });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !quiet401) {
      forgetSession();
      window.location.assign("/");
    }
    throw new ApiError(response.status, data || {});
  }
  return data;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}, options) => request("POST", path, body, options),
  patch: (path, body) => request("PATCH", path, body),
  put: (path, body) => request("PUT", path, body),
  del: (path) => request("DELETE", path),
  newKey,
};

export async function signIn(credential) {
  const data = await request("POST", "/api/session", { credential }, { quiet401: true });
  csrfToken = data.csrf_token;
  localStorage.setItem(SESSION_HINT, "1");
  return data.operator;
}

export async function currentSession() {
  const data = await request("GET", "/api/session");
  csrfToken = data.csrf_token;
  return data.operator;
}

export function mayHaveSession() {
  return localStorage.getItem(SESSION_HINT) === "1";
}

export function forgetSession() {
  localStorage.removeItem(SESSION_HINT);
}

export async function signOut() {
  try {
    await request("DELETE", "/api/session", undefined, { quiet401: true });
  } finally {
    forgetSession();
    csrfToken = null;
  }
}

export async function getConfig() {
  return request("GET", "/api/config");
}
