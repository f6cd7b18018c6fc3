// Shared by the browser and the indicator pages: API calls with clear failures, number
// formatting, the pivot-following chart. Data are only ever written with textContent.

export const T = JSON.parse(document.getElementById("i18n").textContent);
export const LANG = document.documentElement.lang === "en" ? "en" : "lv";

const SLOW_MS = 1500; // after this a "still running" notice replaces "Loading…"
const TIMEOUT_S = 60; // the page gives up and says so (the server's own limits are shorter)

/** An API failure with the API's error shape (or a made-up one for network trouble). */
export class ApiError extends Error {
  constructor(error, message, hint) {
    super(message);
    this.error = error;
    this.hint = hint;
  }
}

let pending = 0;
let slowTimer = null;

function setStatus(text) {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

/** GET a JSON API route; show "Loading…", then a slow-query notice; throw ApiError on failure. */
export async function api(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_S * 1000);
  if (pending++ === 0) {
    setStatus(T.loading);
    slowTimer = setTimeout(() => setStatus(T.slow), SLOW_MS);
  }
  try {
    let response;
    try {
      response = await fetch(url, { signal: abort.signal, headers: { Accept: "application/json" } });
    } catch (e) {
      if (abort.signal.aborted) throw new ApiError("timeout", T.timeout.replace("{seconds}", TIMEOUT_S));
      throw new ApiError("network", T.unreachable);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) {
      if (body && typeof body.message === "string") throw new ApiError(body.error, body.message, body.hint);
      throw new ApiError("http_" + response.status, `HTTP ${response.status} ${response.statusText}`);
    }
    if (body === null) throw new ApiError("bad_response", `${url.pathname}: not JSON`);
    return body;
  } finally {
    clearTimeout(timer);
    if (--pending === 0) {
      clearTimeout(slowTimer);
      setStatus("");
    }
  }
}

/** Where "Sign in" goes: the server's sign-in, then back to this very view. */
export function signInHref() {
  return "/auth/login?" + new URLSearchParams({ next: window.location.pathname + window.location.search });
}

/** Show an error (API shape or any exception) in the page's alert region. A 401 on a server
 * that signs browsers in (the header has its control) offers signing in, back to this view. */
export function showError(err) {
  const box = document.getElementById("error");
  box.replaceChildren();
  if (!err) return;
  const p = document.createElement("p");
  p.className = "error";
  const kind = document.createElement("strong");
  kind.textContent = (err.error || "error") + ": ";
  p.append(kind, err.message || String(err));
  if (err.hint) {
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = " — " + err.hint;
    p.append(hint);
  }
  box.append(p);
  if (err.error === "unauthorized" && document.getElementById("account")) {
    const again = el("a", { id: "sign-in-again", href: signInHref() }, T.sign_in);
    box.append(el("p", { className: "notice" }, T.signed_out_notice + " ", again));
  }
}

/** Element helper: el("td", {className: "x", dataset: {value: 1}}, "text", child…). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const formats = new Map();

/** A number as the page shows it: locale grouping, the measure's decimals (else up to 2). */
export function formatNumber(value, decimals) {
  if (value === null || value === undefined) return "–";
  const key = decimals ?? -1;
  if (!formats.has(key)) {
    const opts = decimals === null || decimals === undefined
      ? { maximumFractionDigits: 2 }
      : { minimumFractionDigits: decimals, maximumFractionDigits: decimals };
    formats.set(key, new Intl.NumberFormat(LANG === "en" ? "en-GB" : "lv-LV", opts));
  }
  return formats.get(key).format(value);
}

/** A table cell holding an API number: the exact value in data-value, formatted text. */
export function numberCell(value, decimals, tag = "td") {
  return el(tag, { className: "num", dataset: { value: value === null || value === undefined ? "" : String(value) } },
    formatNumber(value, decimals));
}

const PALETTE = ["#1f5f99", "#c0392b", "#2e8b57", "#d68910", "#7d3c98", "#16a085", "#7f8c8d", "#b03a2e",
  "#2874a6", "#a04000", "#117864", "#6c3483"];

let chart = null;

/** Draw (or redraw) the page's one chart: labels on x, one dataset per series. */
export function drawChart(canvas, type, labels, series, title) {
  if (typeof window.Chart !== "function") return; // the table still shows every number
  if (chart) chart.destroy();
  const stacked = type === "stacked";
  chart = new window.Chart(canvas, {
    type: stacked ? "bar" : type,
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.values,
        backgroundColor: PALETTE[i % PALETTE.length],
        borderColor: PALETTE[i % PALETTE.length],
        spanGaps: true,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" }, title: { display: Boolean(title), text: title } },
      scales: { x: { stacked }, y: { stacked, beginAtZero: true } },
    },
  });
  canvas.setAttribute("aria-label", title || "");
}
