// Money, dates and plain-words labels for the screens.

const formatters = new Map();

function formatter(currency) {
  const key = currency.toUpperCase();
  if (!formatters.has(key)) {
    formatters.set(key, new Intl.NumberFormat(undefined, { style: "currency", currency: key }));
  }
  return formatters.get(key);
}

export function minorDigits(currency) {
  return formatter(currency).resolvedOptions().maximumFractionDigits;
}

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  return formatter(currency).format(amount / 10 ** minorDigits(currency));
}

// 1250 -> "12.50" for usd: the amount as an operator would type it.
export function plainAmount(amount, currency) {
  const digits = minorDigits(currency);
  return (amount / 10 ** digits).toFixed(digits);
}

// "12.5" -> 1250 for usd, without floating point; null when it is not an amount.
export function parseAmount(text, currency) {
  const digits = minorDigits(currency);
  const cleaned = String(text).trim().replace(/[\s,$€£]/g, "");
  const pattern = digits > 0 ? new RegExp(`^(\\d{1,9})(?:\\.(\\d{0,${digits}}))?$`) : /^(\d{1,9})$/;
  const match = cleaned.match(pattern);
  if (!match) return null;
  const fraction = (match[2] || "").padEnd(digits, "0");
  return Number(match[1]) * 10 ** digits + Number(fraction || "0");
}

export function time(value) {
  const date = toDate(value);
  return date ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "—";
}

export function dateTime(value) {
  const date = toDate(value);
  return date ? date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }) : "—";
}

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return new Date(value < 1e12 ? value * 1000 : value);
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export function relativeAge(ms) {
  if (!ms) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return toDate(ms).toLocaleDateString();
}

const DEVICE_NAMES = {
  stripe_s700: "Stripe Reader S700",
  stripe_s710: "Stripe Reader S710",
  bbpos_wisepos_e: "BBPOS WisePOS E",
  simulated_stripe_s700: "Stripe Reader S700 (simulated)",
  simulated_stripe_s710: "Stripe Reader S710 (simulated)",
  simulated_wisepos_e: "BBPOS WisePOS E (simulated)",
  verifone_P400: "Verifone P400",
};

export function deviceName(type) {
  return DEVICE_NAMES[type] || (type || "Unknown device").replaceAll("_", " ");
}

const ORDER_STATUS = {
  open: "Open",
  in_payment: "In payment",
  authorized: "Authorized",
  paid: "Paid",
  partially_refunded: "Partly refunded",
  refunded: "Refunded",
  canceled: "Canceled",
};

export function orderStatus(status) {
  return ORDER_STATUS[status] || status;
}

const ATTEMPT_STATUS = {
  created: "Starting",
  on_reader: "On reader",
  authorized: "Authorized",
  captured: "Captured",
  declined: "Declined",
  canceled: "Canceled",
  failed: "Failed",
  partially_refunded: "Partly refunded",
  refunded: "Refunded",
};

export function attemptStatus(status) {
  return ATTEMPT_STATUS[status] || status;
}

export function statusTone(status) {
  if (["paid", "captured", "authorized"].includes(status)) return "good";
  if (["declined", "failed"].includes(status)) return "bad";
  if (["canceled", "refunded", "partially_refunded"].includes(status)) return "muted";
  return "info";
}

export function cardLabel(card) {
  if (!card) return "—";
  const brand = card.brand ? card.brand.charAt(0).toUpperCase() + card.brand.slice(1) : "Card";
  return `${brand} •••• ${card.last4 || "????"}`;
}
