// Shared by the browser and the indicator pages: API calls with clear failures, number
// formatting, the pivot-following chart. Data are only ever written with textContent.

export const T = JSON.parse(document.getElementById("i18n").textContent);
export const LANG = document.documentElement.lang === "en" ? "en" : "lv";

const SLOW_MS = 1500; // after this a "still running" notice replaces "Loading…"
const TIMEOUT_S = 60; // the page gives up and says so (the server's own limits are shorter)

/** An API failure with the API's error shape (or one the page makes: network trouble, a
 * timeout — `local`, its message already in the page's language). */
export class ApiError extends Error {
  constructor(error, message, hint, local = false, lang = "en") {
    super(message);
    this.error = error;
    this.hint = hint;
    this.local = local;
    this.lang = lang;
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
      response = await fetch(url, {
        signal: abort.signal,
        headers: { Accept: "application/json", "Accept-Language": LANG },
      });
    } catch (e) {
      if (abort.signal.aborted) throw new ApiError("timeout", T.timeout.replace("{seconds}", TIMEOUT_S), null, true);
      throw new ApiError("network", T.unreachable, null, true);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) {
      if (body && typeof body.message === "string") {
        const said = response.headers.get("Content-Language") || "en";
        throw new ApiError(body.error, body.message, body.hint, false, said);
      }
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

/** Show an error (API shape or any exception) in the page's alert region: what happened in the
 * page's language (by the error's type), then the API's own message and hint — in the page's
 * language where the server has them so (it answers in the Accept-Language the page sends),
 * else in English, marked so (lang="en") — and the type's code for a support request.
 * A 401 on a server that signs browsers in (the header has its control) offers signing in,
 * back to this view. */
export function showError(err) {
  const box = document.getElementById("error");
  box.replaceChildren();
  if (!err) return;
  const type = err.error || "error";
  const p = el("p", { className: "error", dataset: { error: type } },
    el("strong", {}, `${T[`err_${type}`] ?? T.error}: `));
  const said = el("span", { className: "message" }, err.message || String(err));
  if (err.hint) said.append(el("span", { className: "hint" }, ` — ${err.hint}`));
  if (!err.local) said.lang = err.lang || "en";
  p.append(said, " ", el("code", { className: "error-type" }, `(${type})`));
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

/** The page's locale for numbers: Latvian `1 234,5`, English `1,234.5`. */
export const LOCALE = LANG === "en" ? "en-GB" : "lv-LV";

const intls = new Map();

/** A cached Intl.NumberFormat. Grouping always: CLDR's Latvian groups only from five digits
 * (`1234,5` but `12 345,6`), which would misalign a column. */
function intl(opts) {
  const key = JSON.stringify(opts);
  if (!intls.has(key)) intls.set(key, new Intl.NumberFormat(LOCALE, { useGrouping: "always", ...opts }));
  return intls.get(key);
}

/** Whether Intl knows `code` as a currency (EUR, USD…): such a unit is written as money. */
function isCurrency(code) {
  if (!/^[A-Z]{3}$/.test(code || "")) return false;
  try {
    return Intl.supportedValuesOf("currency").includes(code);
  } catch (e) {
    return false;
  }
}

/** Fraction digits the values need (at most 2), for a measure whose model gives no
 * `decimals`: every value of a column is then written with the same number of them. */
function neededDecimals(values) {
  let most = 0;
  for (const v of values) {
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    while (most < 2 && Math.abs(Math.round(v * 10 ** most) - v * 10 ** most) > 1e-6) most += 1;
  }
  return most;
}

/** A unit's name in the page's language (the model's unit is a code: persons, EUR, %). */
export function unitLabel(unit) {
  if (!unit) return "";
  return T[`unit_${unit}`] ?? unit;
}

/** How a measure's numbers are written on the page — in cells, chart axes and tooltips alike:
 * the page's locale, the model's decimals (else as many as the values need, the same for all),
 * money in its currency, `%` and `‰` with the number. `info` is the model's {unit, decimals}. */
export function measureFormat(info = {}, values = []) {
  const unit = info?.unit || null;
  const kind = unit === "%" ? "percent" : unit === "\u2030" ? "permille" : isCurrency(unit) ? "currency" : "plain";
  const decimals = info?.decimals ?? (kind === "currency" ? 2 : neededDecimals(values));
  const style = kind === "currency" ? { style: "currency", currency: unit } : kind === "percent" ? { style: "percent" } : {};
  const write = (v, digits) => {
    const text = intl({ ...style, ...digits }).format(kind === "percent" ? v / 100 : v);
    return kind === "permille" ? `${text}\u2030` : text;
  };
  const fixed = { minimumFractionDigits: decimals, maximumFractionDigits: decimals };
  const round = { minimumFractionDigits: 0, maximumFractionDigits: decimals };
  return {
    unit,
    kind,
    decimals,
    /** Cells and tooltips: always `decimals` fraction digits; "–" for no value. */
    format: (v) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? "–" : write(Number(v), fixed)),
    /** Axis ticks: round steps (the axis steps by whole `decimals`), without trailing zeros. */
    tick: (v) => write(Number(v), round),
    /** What a title adds: the unit's name in the page's language, unless the numbers show it. */
    suffix: kind === "plain" && unit ? ` (${unitLabel(unit)})` : "",
  };
}

/** A table cell holding an API number: the exact value in data-value, text written by `fmt`
 * (measureFormat). */
export function numberCell(value, fmt, tag = "td", status = null) {
  if (status === "P") { // perturbed by the cell key method: the published value, marked
    return el(tag, { className: "num perturbed", title: T.status_P, dataset: { value: String(value), status } },
      fmt.format(value));
  }
  if (status) { // a protected cell (docs/disclosure.md): its status code, no value
    return el(tag, { className: "num conf", title: T[`status_${status}`] || status, dataset: { value: "", status } },
      status);
  }
  return el(tag, { className: "num", dataset: { value: value === null || value === undefined ? "" : String(value) } },
    fmt.format(value));
}

/** The legend of the disclosure statuses a table shows (null: it shows none). */
export function statusLegend(table) {
  const codes = [...new Set([...table.querySelectorAll("[data-status]")].map((td) => td.dataset.status))].sort();
  if (!codes.length) return null;
  return el("dl", { className: "legend", id: "status-legend" }, el("dt", {}, T.legend),
    ...codes.flatMap((c) => [el("dd", {}, el("b", {}, c), ` — ${T[`status_${c}`] || c}`)]));
}

// Series colours: Okabe & Ito's palette, told apart with every common colour-vision deficiency
// (black left out: it is the text's colour). Past its seven, each round repeats them lighter,
// then darker, and lines get the round's dash pattern and point style, so that series stay
// apart without colour; past five rounds the hues turn by the golden angle. Never a repeat.
const OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442"];
const ROUNDS = [[0, 0], [1, 0.45], [-1, 0.35], [1, 0.65], [-1, 0.55]]; // toward white (1) or black (-1), by
const DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3]];
const POINTS = ["circle", "rect", "triangle", "rectRot", "star"];

function mix(hex, toward, share) {
  const target = toward > 0 ? 255 : 0;
  return "#" + [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16);
    return Math.round(c + (target - c) * share).toString(16).padStart(2, "0").toUpperCase();
  }).join("");
}

/** The colour of series `i`: distinct for every i, and the same on every page. */
export function seriesColour(i) {
  const n = OKABE_ITO.length;
  const round = Math.floor(i / n);
  if (round < ROUNDS.length) {
    const [toward, share] = ROUNDS[round];
    return share ? mix(OKABE_ITO[i % n], toward, share) : OKABE_ITO[i % n];
  }
  const k = i - n * ROUNDS.length;
  return `hsl(${((k * 137.508) % 360).toFixed(3)} 65% ${[38, 52, 66][k % 3]}%)`;
}

let chart = null;

/** Draw (or redraw) the page's one chart: labels on x, one dataset per series; the y axis and
 * the tooltips write numbers with `fmt` (measureFormat), as the table does. */
export function drawChart(canvas, type, labels, series, title, fmt = measureFormat()) {
  if (typeof window.Chart !== "function") return; // the table still shows every number
  if (chart) chart.destroy();
  const stacked = type === "stacked";
  const round = (i) => Math.floor(i / OKABE_ITO.length);
  chart = new window.Chart(canvas, {
    type: stacked ? "bar" : type,
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.values,
        backgroundColor: seriesColour(i),
        borderColor: seriesColour(i),
        borderDash: type === "line" ? DASHES[round(i) % DASHES.length] : [],
        pointStyle: POINTS[round(i) % POINTS.length],
        spanGaps: true,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      locale: LOCALE,
      plugins: {
        legend: { position: "bottom" },
        title: { display: Boolean(title), text: title },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt.format(ctx.parsed.y)}` } },
      },
      scales: {
        x: { stacked },
        y: { stacked, beginAtZero: true, ticks: { precision: fmt.decimals, callback: (v) => fmt.tick(v) } },
      },
    },
  });
  canvas.setAttribute("aria-label", title || "");
}
