// The cube browser. Its whole state lives in the URL, in the API's own grammar:
//   cube=unemployment  m=registered_unemployed,persons   (measures)
//   rows=territory@region:municipality|gender  cols=time@ymd:year   (drilldowns, at most 2 each)
//   path=territory@region:LV005   (drill paths, point cuts)   filter=gender:F;M   (set cuts)
//   from=2022 to=2024-06 (years or year-months)   as_of=now   chart=bar|line|stacked   cm=<measure charted>   lang=lv|en
// Every number shown is a cell of an /aggregate answer: totals and subtotals are the API's own
// (subtotals=cube), never sums made here.
import { ApiError, LANG, T, api, drawChart, el, measureFormat, numberCell, showError, statusLegend } from "./common.js";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const MAX = { rows: 2, cols: 2 };
const CHARTS = ["bar", "line", "stacked"];
const NAME = /^([a-z][a-z0-9_]*)(?:@([a-z][a-z0-9_]*))?$/;
const $ = (id) => document.getElementById(id);

let cubes = null; // /cubes
const models = new Map(); // cube → /model
const memberCache = new Map(); // "cube dim as_of" → members rows
let model = null;
let state = null;
let seq = 0; // the latest refresh; older answers are dropped

// --- cut grammar: escape a member key, split on an unescaped separator ---------------------
const esc = (key) => String(key).replace(/[\\!|:;,-]/g, (c) => "\\" + c);
const unesc = (s) => s.replace(/\\(.)/g, "$1");
function splitEsc(text, sep) {
  const out = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\" && i + 1 < text.length) cur += text[i] + text[++i];
    else if (text[i] === sep) { out.push(cur); cur = ""; }
    else cur += text[i];
  }
  out.push(cur);
  return out.filter((p) => p !== "");
}

// --- state ⇄ URL -----------------------------------------------------------------------------
function readUrl() {
  const q = new URLSearchParams(window.location.search);
  const bad = [];
  const s = {
    cube: q.get("cube") || "",
    measures: (q.get("m") || "").split(",").filter(Boolean),
    rows: [], cols: [], filters: [],
    from: q.get("from") || "", to: q.get("to") || "",
    asOf: q.get("as_of") || "",
    chart: q.get("chart") || "bar",
    chartMeasure: q.get("cm") || "",
    axesGiven: q.has("rows") || q.has("cols"),
  };
  for (const axis of ["rows", "cols"]) {
    for (const part of (q.get(axis) || "").split("|").filter(Boolean)) {
      const [head, level, ...extra] = part.split(":");
      const m = NAME.exec(head);
      if (!m || extra.length || (level !== undefined && !/^[a-z][a-z0-9_]*$/.test(level))) bad.push(`${axis}=${part}`);
      else s[axis].push({ dim: m[1], hier: m[2] || null, level: level || null, path: [] });
    }
  }
  for (const [key, list] of [["path", null], ["filter", s.filters]]) {
    for (const part of splitEsc(q.get(key) || "", "|")) {
      const [head, body, ...extra] = splitEsc(part, ":");
      const m = NAME.exec(head || "");
      const paths = body ? splitEsc(body, ";").map((p) => splitEsc(p, ",").map(unesc)) : [];
      if (!m || !paths.length || extra.length) { bad.push(`${key}=${part}`); continue; }
      if (list) { list.push({ dim: m[1], hier: m[2] || null, paths }); continue; }
      const item = [...s.rows, ...s.cols].find((a) => a.dim === m[1]);
      if (!item || paths.length !== 1) bad.push(`${key}=${part}`);
      else item.path = paths[0];
    }
  }
  if (!CHARTS.includes(s.chart)) { bad.push(`chart=${s.chart}`); s.chart = "bar"; }
  for (const k of ["from", "to"]) if (s[k] && !/^\d{4}(-\d{2})?$/.test(s[k])) { bad.push(`${k}=${s[k]}`); s[k] = ""; }
  return { s, bad };
}

function toParams(s, lang) {
  const ref = (a) => `${a.dim}@${a.hier}`;
  const p = new URLSearchParams();
  p.set("cube", s.cube);
  p.set("m", s.measures.join(","));
  p.set("rows", s.rows.map((a) => `${ref(a)}:${levelName(a)}`).join("|"));
  p.set("cols", s.cols.map((a) => `${ref(a)}:${levelName(a)}`).join("|"));
  const paths = [...s.rows, ...s.cols].filter((a) => a.path.length);
  if (paths.length) p.set("path", paths.map((a) => `${ref(a)}:${a.path.map(esc).join(",")}`).join("|"));
  if (s.filters.length) {
    p.set("filter", s.filters.map((f) => `${ref(f)}:${f.paths.map((x) => x.map(esc).join(",")).join(";")}`).join("|"));
  }
  for (const [k, v] of [["from", s.from], ["to", s.to], ["as_of", s.asOf]]) if (v) p.set(k, v);
  p.set("chart", s.chart);
  if (s.chartMeasure && s.chartMeasure !== s.measures[0]) p.set("cm", s.chartMeasure);
  p.set("lang", lang);
  return p;
}

function writeUrl(push) {
  const url = `/browser?${toParams(state, LANG)}`;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
  $("lang-switch").href = `/browser?${toParams(state, LANG === "en" ? "lv" : "en")}`;
}

// --- the model ---------------------------------------------------------------------------------
const dimOf = (name) => model.dimensions.find((d) => d.name === name);
const timeDim = () => model.dimensions.find((d) => d.role === "time");
const hierOf = (a) => dimOf(a.dim).hierarchies.find((h) => h.name === a.hier);
const levelsOf = (a) => hierOf(a).levels;
const levelName = (a) => levelsOf(a)[a.lvl];
const levelLabel = (a, name) => dimOf(a.dim).levels.find((l) => l.name === name)?.label || name;
const measureOf = (name) => model.aggregates.find((m) => m.name === name);

/** Check URL state against the cube's model: unknown names are dropped and reported. */
function resolve(s, bad) {
  const used = new Set();
  const fix = (a, what) => {
    const dim = dimOf(a.dim);
    if (!dim || used.has(a.dim)) { bad.push(`${what}=${a.dim}`); return false; }
    if (!a.hier || !dim.hierarchies.some((h) => h.name === a.hier)) {
      if (a.hier) bad.push(`${what}=${a.dim}@${a.hier}`);
      a.hier = dim.default_hierarchy_name;
    }
    const levels = levelsOf(a);
    let lvl = a.level ? levels.indexOf(a.level) : Math.min(a.path?.length || 0, levels.length - 1);
    if (lvl < 0) { bad.push(`${what}=${a.dim}:${a.level}`); lvl = 0; }
    a.lvl = lvl;
    if (a.path && a.path.length > lvl) { bad.push(`path=${a.dim}`); a.path = a.path.slice(0, lvl); }
    used.add(a.dim);
    return true;
  };
  for (const axis of ["rows", "cols"]) {
    s[axis] = s[axis].filter((a) => fix(a, axis));
    if (s[axis].length > MAX[axis]) { bad.push(`${axis}: max ${MAX[axis]}`); s[axis] = s[axis].slice(0, MAX[axis]); }
  }
  used.clear();
  s.filters = s.filters.filter((f) => fix(f, "filter"));
  const known = s.measures.filter((m) => measureOf(m));
  for (const m of s.measures) if (!measureOf(m)) bad.push(`m=${m}`);
  s.measures = known.length ? known : [model.aggregates[0].name];
  if (s.chartMeasure && !s.measures.includes(s.chartMeasure)) { bad.push(`cm=${s.chartMeasure}`); s.chartMeasure = ""; }
  if (!s.axesGiven) defaultAxes(s);
  return s;
}

function defaultAxes(s) {
  const time = timeDim();
  const other = model.dimensions.filter((d) => d.role !== "time");
  const rows = other.find((d) => d.levels.length > 1) || other[0];
  if (rows) s.rows = [{ dim: rows.name, hier: rows.default_hierarchy_name, lvl: 0, path: [] }];
  if (time) s.cols = [{ dim: time.name, hier: time.default_hierarchy_name, lvl: 0, path: [] }];
}

// --- queries -------------------------------------------------------------------------------------
const drilldown = (items) => items.map((a) => `${a.dim}@${a.hier}:${levelName(a)}`).join("|");

function cutString() {
  const parts = [];
  for (const a of [...state.rows, ...state.cols]) {
    if (a.path.length) parts.push(`${a.dim}@${a.hier}:${a.path.map(esc).join(",")}`);
  }
  for (const f of state.filters) {
    parts.push(`${f.dim}@${f.hier}:${f.paths.map((p) => p.map(esc).join(",")).join(";")}`);
  }
  const time = timeDim();
  if (time && (state.from || state.to)) parts.push(timeRangeCut(time));
  return parts.join("|");
}

const baseParams = () => ({
  cut: cutString(), aggregates: state.measures.join("|"), as_of: state.asOf, lang: LANG,
});

// A member is named by its whole path: a key is unique only under its parent (quarter 2 of each year).
const keyOf = (cell, a) => levelsOf(a).slice(0, a.lvl + 1).map((lv) => String(cell[`${a.dim}.${lv}`])).join("\u0002");
const labelOf = (cell, a) => cell[`${a.dim}.${levelName(a)}_label`] ?? T.none;
const tupleKey = (cell, items) => items.map((a) => keyOf(cell, a)).join("\u0001");

/** Fetch the grid with one /aggregate: the cells and, with subtotals=cube, every margin the
 * table needs (by a prefix of the rows × a prefix of the columns), each computed by the API. */
async function refresh() {
  const mine = ++seq;
  showError(null);
  const R = state.rows.length;
  const C = state.cols.length;
  const items = [...state.rows, ...state.cols];
  let details;
  const grid = new Map();
  let summary;
  try {
    let answer;
    [details, answer] = await Promise.all([
      cellDetails(),
      api(`/cube/${encodeURIComponent(state.cube)}/aggregate`, {
        ...baseParams(), drilldown: drilldown(items), subtotals: items.length > 1 ? "cube" : "",
      }),
    ]);
    summary = answer.summary;
    for (let i = 0; i <= R; i++) {
      for (let j = 0; j <= C; j++) {
        const sub = [...state.rows.slice(0, i), ...state.cols.slice(0, j)];
        const cells = sub.length === items.length ? answer.cells : sub.length ? subtotal(answer, sub) : [];
        grid.set(`${i},${j}`, { cells, byKey: new Map(cells.map((c) => [tupleKey(c, sub), c])) });
      }
    }
  } catch (err) {
    if (mine !== seq) return;
    $("pivot").replaceChildren();
    drawChart($("chart"), state.chart, [], [], "");
    showError(err);
    renderBreadcrumbs(new Map());
    markReady();
    return;
  }
  if (mine !== seq) return;
  const unknown = [...details.values()].filter((d) => d.label === null);
  if (unknown.length) {
    const names = unknown.map((d) => `${dimOf(d.dim)?.label ?? d.dim} '${d.key}'`);
    showError({ error: "not_found", message: `${T.unknown_member}: ${names.join(", ")}`, local: true });
  }
  renderPivot(grid, summary);
  renderChart(grid, summary);
  renderBreadcrumbs(details);
  renderFilters(details);
  renderExport();
  markReady();
}

/** The cells of the answer's subtotal set grouped by exactly the drilled levels of `items`. */
function subtotal(answer, items) {
  const want = (a) => levelsOf(a).slice(0, a.lvl + 1).join("|");
  const set = (answer.subtotals || []).find((s) => {
    const keys = Object.keys(s.levels);
    return keys.length === items.length && items.every((a) =>
      keys.some((k) => k.split("@")[0] === a.dim && s.levels[k].join("|") === want(a)));
  });
  if (!set) throw new ApiError("bad_response", "the answer lacks a subtotal the table needs");
  return set.cells;
}

function markReady() {
  if (window.labisFirstRender === undefined) window.labisFirstRender = performance.now();
  document.body.dataset.ready = String(seq);
}

// --- the pivot table -------------------------------------------------------------------------------
function drillButton(cell, axis, index) {
  const a = state[axis][index];
  const label = String(labelOf(cell, a));
  if (a.lvl >= levelsOf(a).length - 1) return label;
  const b = el("button", { type: "button", className: "drill", title: `${T.drill} ${label}` }, label);
  b.setAttribute("aria-label", `${T.drill} ${label}`);
  b.addEventListener("click", () => {
    const key = (lv) => cell[`${a.dim}.${lv}`];
    a.path = levelsOf(a).slice(0, a.lvl + 1).map((lv) => (key(lv) === null ? "__null__" : String(key(lv))));
    a.lvl += 1;
    changed(true);
  });
  return b;
}

/** The table's value columns in order: with two column dimensions each outer member's inner
 * members, then its subtotal; the total last. `j` = how many column dimensions group it. */
function columnList(grid) {
  const C = state.cols.length;
  const out = [];
  for (const a of C ? grid.get(`0,1`).cells : []) {
    const ka = keyOf(a, state.cols[0]);
    const aLabel = String(labelOf(a, state.cols[0]));
    if (C === 2) {
      for (const b of grid.get(`0,2`).cells.filter((c) => keyOf(c, state.cols[0]) === ka)) {
        out.push({ j: 2, key: tupleKey(b, state.cols), cell: b, label: `${aLabel} / ${labelOf(b, state.cols[1])}` });
      }
    }
    out.push({ j: 1, key: ka, cell: a, label: C === 2 ? `${aLabel} — ${T.subtotal}` : aLabel, sub: C === 2 });
  }
  out.push({ j: 0, key: "", label: T.total, total: true });
  return out;
}

function renderPivot(grid, summary) {
  const R = state.rows.length;
  const C = state.cols.length;
  const M = state.measures.map(measureOf);
  const fmt = new Map(M.map((m) => [m.name, formatOf(grid, summary, m)]));
  const columns = columnList(grid);
  const values = (rowKey, i) => columns.flatMap((col) => {
    const key = [rowKey, col.key].filter((k) => k !== "").join("\u0001");
    const cell = i === 0 && col.j === 0 ? summary : grid.get(`${i},${col.j}`)?.byKey.get(key);
    return M.map((m) => {
      const status = cell ? cell[`${m.name}:status`] ?? null : null; // docs/disclosure.md
      const td = numberCell(cell ? cell[m.name] : null, fmt.get(m.name), "td", status);
      td.dataset.col = col.label;
      if (col.sub) td.classList.add("subtotal");
      return td;
    });
  });

  const table = el("table", { className: "pivot", id: "pivot-table" });
  const what = M.map((m) => m.label + fmt.get(m.name).suffix).join(", ");
  table.append(el("caption", {}, `${model.label} — ${what}`));
  const head = el("thead");
  const h1 = el("tr");
  const span = Math.max(C, 1) + (M.length > 1 ? 1 : 0); // header rows: column levels, then measure names
  for (const a of state.rows) {
    h1.append(el("th", { scope: "col", rowSpan: span }, `${dimOf(a.dim).label} (${levelLabel(a, levelName(a))})`));
  }
  if (!R) h1.append(el("th", { scope: "col", rowSpan: span }, ""));
  const h2 = el("tr");
  for (const col of columns) {
    const th = (props, content) => el("th", { scope: "colgroup", colSpan: M.length, ...props }, content);
    if (col.total) h1.append(th({ className: "total", rowSpan: C === 2 ? 2 : 1 }, T.total));
    else if (C === 1) h1.append(th({}, drillButton(col.cell, "cols", 0)));
    else if (col.j === 2) h2.append(th({}, drillButton(col.cell, "cols", 1)));
    else {
      const width = columns.filter((c) => c.j === 2 && c.key.startsWith(col.key + "\u0001")).length + 1;
      h1.append(th({ colSpan: width * M.length }, drillButton(col.cell, "cols", 0)));
      h2.append(th({ className: "subtotal" }, T.subtotal));
    }
  }
  head.append(h1);
  if (C === 2) head.append(h2);
  if (M.length > 1) {
    head.append(el("tr", {}, ...columns.flatMap(() => M.map((m) => el("th", { scope: "col", className: "measure" }, m.label)))));
  }

  const body = el("tbody");
  if (R === 0) {
    body.append(el("tr", {}, el("th", { scope: "row" }, T.total), ...values("", 0)));
  } else {
    for (const outer of grid.get(`1,0`).cells) {
      const k0 = keyOf(outer, state.rows[0]);
      if (R === 1) {
        body.append(el("tr", {}, el("th", { scope: "row" }, drillButton(outer, "rows", 0)), ...values(k0, 1)));
        continue;
      }
      const inner = grid.get(`2,0`).cells.filter((c) => keyOf(c, state.rows[0]) === k0);
      inner.forEach((c, n) => {
        const tr = el("tr");
        if (n === 0) tr.append(el("th", { scope: "rowgroup", rowSpan: inner.length + 1 }, drillButton(outer, "rows", 0)));
        tr.append(el("th", { scope: "row" }, drillButton(c, "rows", 1)), ...values(tupleKey(c, state.rows), 2));
        body.append(tr);
      });
      const sub = el("tr", { className: "subtotal" });
      if (!inner.length) sub.append(el("th", { scope: "row" }, drillButton(outer, "rows", 0)));
      sub.append(el("th", { scope: "row" }, `${labelOf(outer, state.rows[0])} — ${T.subtotal}`), ...values(k0, 1));
      body.append(sub);
    }
  }
  table.append(head, body);
  if (R > 0) {
    const foot = el("tfoot");
    foot.append(el("tr", { className: "total" }, el("th", { scope: "row", colSpan: R }, T.total), ...values("", 0)));
    table.append(foot);
  }
  const box = $("pivot");
  box.replaceChildren(table);
  const legend = statusLegend(table);
  if (legend) box.append(legend);
  if (R && !grid.get(`1,0`).cells.length) box.append(el("p", { className: "notice" }, T.no_data));
}

/** How a measure's numbers are written in this view: its unit and decimals from the model
 * (else the decimals its values here need), the same in every cell, on the axis and in tooltips. */
function formatOf(grid, summary, m) {
  const values = [summary?.[m.name]];
  for (const part of grid.values()) for (const c of part.cells) values.push(c[m.name]);
  return measureFormat(m.info, values);
}

// --- the chart follows the pivot: columns on x and a series per row, else rows on x ------------------
/** The measure the chart shows: the one chosen (`cm`) while it is selected, else the first. */
const chartMeasure = () => (state.measures.includes(state.chartMeasure) ? state.chartMeasure : state.measures[0]);

function renderChart(grid, summary) {
  const R = state.rows.length;
  const C = state.cols.length;
  const m = measureOf(chartMeasure());
  const leaves = R ? grid.get(`${R},0`).cells : [];
  const rowLabel = (c) => state.rows.map((a) => labelOf(c, a)).join(" / ");
  let labels;
  let series;
  if (C) {
    const cols = columnList(grid).filter((c) => c.j === C);
    labels = cols.map((c) => c.label);
    const byKey = grid.get(`${R},${C}`).byKey;
    const line = (rowKey, label) => ({
      label, values: cols.map((c) => byKey.get(rowKey ? `${rowKey}\u0001${c.key}` : c.key)?.[m.name] ?? null),
    });
    series = R ? leaves.map((r) => line(tupleKey(r, state.rows), rowLabel(r))) : [line("", T.total)];
  } else {
    labels = R ? leaves.map(rowLabel) : [T.total];
    series = [{ label: m.label, values: R ? leaves.map((c) => c[m.name] ?? null) : [summary[m.name] ?? null] }];
  }
  const fmt = formatOf(grid, summary, m);
  drawChart($("chart"), state.chart, labels, series, m.label + fmt.suffix, fmt);
  $("chart-caption").textContent = `${T.chart_of}: ${m.label}`;
}

/** Labels of the drill paths' and filters' members, from /cell: "dim path…" → {label, key}.
 * A member the dimension does not have comes back without a label (a bad link). */
async function cellDetails() {
  const out = new Map();
  const parts = [...state.rows, ...state.cols].filter((a) => a.path.length)
    .map((a) => `${a.dim}@${a.hier}:${a.path.map(esc).join(",")}`);
  for (const f of state.filters) parts.push(`${f.dim}@${f.hier}:${f.paths.map((p) => p.map(esc).join(",")).join(";")}`);
  if (!parts.length) return out;
  const answer = await api(`/cube/${encodeURIComponent(state.cube)}/cell`, { cut: parts.join("|"), lang: LANG });
  for (const cut of answer.cuts) {
    const paths = cut.type === "set" ? cut.details : [cut.details];
    for (const levels of paths) {
      levels.forEach((d, j) => {
        const path = levels.slice(0, j + 1).map((x) => String(x._key));
        out.set(`${cut.dimension} ${path.join("\u0001")}`, { dim: cut.dimension, key: String(d._key), label: d._label });
      });
    }
  }
  return out;
}

const detailLabel = (details, dim, path) => details.get(`${dim} ${path.join("\u0001")}`)?.label ?? path[path.length - 1];

function renderBreadcrumbs(details) {
  const nav = $("breadcrumbs");
  nav.replaceChildren();
  for (const axis of ["rows", "cols"]) {
    for (const a of state[axis]) {
      const ol = el("ol", { className: "crumbs" });
      const crumbs = [T.all, ...a.path.map((_, j) => detailLabel(details, a.dim, a.path.slice(0, j + 1)))];
      crumbs.forEach((label, j) => {
        const li = el("li");
        if (j === crumbs.length - 1) li.append(el("span", { ariaCurrent: "location" }, String(label)));
        else {
          const b = el("button", { type: "button", className: "link" }, String(label));
          b.setAttribute("aria-label", `${T.drill_up} ${label}`);
          b.addEventListener("click", () => { a.path = a.path.slice(0, j); a.lvl = j; changed(true); });
          li.append(b);
        }
        ol.append(li);
      });
      nav.append(el("div", { className: "crumb-row" }, el("span", { className: "dim" }, `${dimOf(a.dim).label}:`), ol));
    }
  }
}

function renderExport() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(baseParams())) if (v) p.set(k, v);
  const items = [...state.rows, ...state.cols];
  const dd = drilldown(items);
  if (dd) p.set("drilldown", dd);
  // The file holds what the pivot shows: cells, then its subtotals and the grand total.
  p.set("subtotals", items.length > 1 ? "cube" : "rollup");
  p.set("header", "labels");
  const box = $("export");
  box.replaceChildren(`${T.export}: `);
  for (const fmt of ["csv", "xlsx"]) {
    p.set("format", fmt);
    // A byte order mark, so that Excel opens the CSV as UTF-8 ("reģions", not "reÄ£ions").
    if (fmt === "csv") p.set("bom", "true"); else p.delete("bom");
    box.append(el("a", { href: `/cube/${encodeURIComponent(state.cube)}/aggregate?${p}`, download: "", id: `export-${fmt}` },
      fmt.toUpperCase()), " ");
  }
}

// --- controls --------------------------------------------------------------------------------------
function options(select, items, value) {
  select.replaceChildren(...items.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
}

function dimChoices() {
  const out = [["", T.none]];
  for (const d of model.dimensions) {
    for (const h of d.hierarchies) {
      const label = d.hierarchies.length > 1 ? `${d.label} — ${h.label}` : d.label;
      out.push([`${d.name}@${h.name}`, label]);
    }
  }
  return out;
}

function renderAxes() {
  for (const axis of ["rows", "cols"]) {
    const box = $(`${axis}-axis`);
    box.querySelectorAll(".slot").forEach((n) => n.remove());
    const slots = Math.min(state[axis].length + 1, MAX[axis]);
    for (let i = 0; i < slots; i++) {
      const a = state[axis][i];
      const n = i + 1;
      const dimSel = el("select", { id: `${axis}-dim-${n}` });
      options(dimSel, dimChoices(), a ? `${a.dim}@${a.hier}` : "");
      dimSel.addEventListener("change", () => setAxis(axis, i, dimSel.value));
      const slot = el("div", { className: "slot" },
        el("label", {}, `${axis === "rows" ? T.rows : T.columns} ${n} `, dimSel));
      if (a) {
        const lvSel = el("select", { id: `${axis}-level-${n}` });
        options(lvSel, levelsOf(a).map((lv, j) => [String(j), levelLabel(a, lv)]), String(a.lvl));
        lvSel.addEventListener("change", () => {
          a.lvl = Number(lvSel.value);
          a.path = a.path.slice(0, a.lvl);
          changed(true);
        });
        slot.append(el("label", {}, `${T.level} `, lvSel));
      }
      box.append(slot);
    }
  }
}

function setAxis(axis, i, value) {
  if (!value) state[axis].splice(i, 1);
  else {
    const [dim, hier] = value.split("@");
    for (const other of ["rows", "cols"]) state[other] = state[other].filter((a) => a.dim !== dim);
    state[axis].splice(Math.min(i, state[axis].length), 0, { dim, hier, lvl: 0, path: [] });
    state[axis] = state[axis].slice(0, MAX[axis]);
  }
  changed(true);
}

function renderMeasures() {
  const box = $("measures");
  box.querySelectorAll("label").forEach((n) => n.remove());
  for (const m of model.aggregates) {
    const cb = el("input", { type: "checkbox", value: m.name, checked: state.measures.includes(m.name) });
    cb.addEventListener("change", () => {
      const chosen = [...box.querySelectorAll("input:checked")].map((x) => x.value);
      if (!chosen.length) { cb.checked = true; return; }
      state.measures = chosen;
      changed(true);
    });
    box.append(el("label", { className: "check" }, cb, ` ${m.label}`));
  }
}

async function members(dim) {
  const key = `${state.cube} ${dim.name} ${state.asOf}`;
  if (!memberCache.has(key)) {
    const h = dim.hierarchies.find((x) => x.name === dim.default_hierarchy_name);
    const answer = await api(`/cube/${encodeURIComponent(state.cube)}/members/${encodeURIComponent(dim.name)}`,
      { depth: h.levels.length, as_of: state.asOf, lang: LANG });
    memberCache.set(key, answer.data);
  }
  return memberCache.get(key);
}

/** Filter candidates: every member at every level of the default hierarchy, by label or key. */
async function renderFilterResults() {
  const list = $("filter-results");
  const dim = dimOf($("filter-dim").value);
  const text = $("filter-search").value.trim().toLocaleLowerCase();
  list.replaceChildren();
  if (!dim || !text) return;
  let rows;
  try { rows = await members(dim); } catch (err) { showError(err); return; }
  const levels = dim.hierarchies.find((x) => x.name === dim.default_hierarchy_name).levels;
  const seen = new Set();
  const found = [];
  for (const row of rows) {
    levels.forEach((lv, j) => {
      const path = levels.slice(0, j + 1).map((l) => String(row[`${dim.name}.${l}`]));
      const label = String(row[`${dim.name}.${lv}_label`] ?? path[j]);
      const id = path.join("\u0001");
      if (seen.has(id) || !(label.toLocaleLowerCase().includes(text) || path[j].toLowerCase().includes(text))) return;
      seen.add(id);
      found.push({ path, label: `${label} (${levelLabel({ dim: dim.name }, lv)})` });
    });
  }
  for (const f of found.slice(0, 20)) {
    const b = el("button", { type: "button", className: "link" }, `${T.add}: ${f.label}`);
    b.addEventListener("click", () => {
      let filter = state.filters.find((x) => x.dim === dim.name);
      if (!filter) state.filters.push((filter = { dim: dim.name, hier: dim.default_hierarchy_name, paths: [] }));
      if (!filter.paths.some((p) => p.join("\u0001") === f.path.join("\u0001"))) filter.paths.push(f.path);
      $("filter-search").value = "";
      list.replaceChildren();
      changed(true);
    });
    list.append(el("li", {}, b));
  }
}

function renderFilters(details = new Map()) {
  const chips = $("filter-chips");
  chips.replaceChildren();
  for (const f of state.filters) {
    for (const path of f.paths) {
      const text = `${dimOf(f.dim).label}: ${detailLabel(details, f.dim, path)}`;
      const b = el("button", { type: "button", className: "chip" }, `${text} ✕`);
      b.setAttribute("aria-label", `${T.remove} ${text}`);
      b.addEventListener("click", () => {
        f.paths = f.paths.filter((p) => p !== path);
        state.filters = state.filters.filter((x) => x.paths.length);
        changed(true);
      });
      chips.append(b);
    }
  }
  const choices = model.dimensions.filter((d) => d.role !== "time").map((d) => [d.name, d.label]);
  options($("filter-dim"), choices, $("filter-dim").value || choices[0]?.[0]);
}

/** The year-month hierarchy of the time dimension, if it has one (for month ranges). */
function monthHierarchy(time) {
  const role = (name) => time.levels.find((l) => l.name === name)?.role;
  return time.hierarchies.find((h) => role(h.levels[0]) === "year" && role(h.levels[1]) === "month") || null;
}

/** The range cut of from/to: years (`time:2023-2024`), or with a month at either end a range
 * over the year-month hierarchy (`time@ym:2023,2-2024,12`; a bare year counts from January or
 * to December). */
function timeRangeCut(time) {
  const ym = monthHierarchy(time);
  if (!ym || ![state.from, state.to].some((v) => v.includes("-"))) {
    const year = (v) => v.slice(0, 4);
    return `${time.name}:${esc(year(state.from))}-${esc(year(state.to))}`;
  }
  const path = (v, last) => {
    if (!v) return "";
    const [y, m] = v.split("-");
    return `${y},${m ? Number(m) : last ? 12 : 1}`;
  };
  return `${time.name}@${ym.name}:${path(state.from, false)}-${path(state.to, true)}`;
}

async function renderTimeRange() {
  const time = timeDim();
  $("time-range").hidden = !time;
  if (!time) return;
  // Each year, followed by its months when the dimension has a year-month hierarchy.
  const ym = monthHierarchy(time);
  const opts = [["", T.all]];
  try {
    const params = ym ? { depth: 2, hierarchy: ym.name, lang: LANG } : { depth: 1, lang: LANG };
    const answer = await api(`/cube/${encodeURIComponent(state.cube)}/members/${time.name}`, params);
    const [yl, ml] = ym ? ym.levels : [time.levels[0].name];
    for (const r of answer.data) {
      const y = String(r[`${time.name}.${yl}`]);
      if (opts[opts.length - 1][0].slice(0, 4) !== y) opts.push([y, y]);
      if (ym) opts.push([`${y}-${String(r[`${time.name}.${ml}`]).padStart(2, "0")}`, `\u2003${r[`${time.name}.${ml}_label`]}`]);
    }
  } catch (err) {
    showError(err);
  }
  options($("time-from"), opts, state.from);
  options($("time-to"), opts, state.to);
}

function renderAsOf() {
  const versions = CONFIG.versions[state.cube] || [];
  const opts = [["", T.as_at_fact], ["now", T.now], ...versions.map((v) => [v.name, `${v.label} (${v.valid_from}…)`])];
  if (state.asOf && !opts.some(([v]) => v === state.asOf)) opts.push([state.asOf, state.asOf]);
  options($("as-of"), opts, state.asOf);
}

function renderControls() {
  options($("cube"), [["", T.choose_cube], ...cubes.map((c) => [c.name, c.label || c.name])], state.cube);
  renderMeasures();
  renderAxes();
  renderFilters();
  renderAsOf();
  $("chart-type").value = state.chart;
  options($("chart-measure"), state.measures.map((n) => [n, measureOf(n)?.label ?? n]), chartMeasure());
}

function changed(push) {
  writeUrl(push);
  renderControls();
  refresh();
}

function showNotice(bad) {
  const box = $("notice");
  box.hidden = !bad.length;
  box.textContent = bad.length ? `${T.bad_state}: ${bad.join(", ")}` : "";
}

// --- start -----------------------------------------------------------------------------------------
async function cubeModel(name) {
  if (!models.has(name)) models.set(name, await api(`/cube/${encodeURIComponent(name)}/model`, { lang: LANG }));
  return models.get(name);
}

/** (Re)build the page from the URL: on load and on back/forward. */
async function load() {
  const { s, bad } = readUrl();
  showError(null);
  const cubesP = cubes ? Promise.resolve(cubes) : api("/cubes", { lang: LANG });
  const modelP = s.cube ? cubeModel(s.cube) : null; // in parallel with /cubes when the link names one
  modelP?.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
  try {
    cubes = await cubesP;
    if (!s.cube) s.cube = cubes[0]?.name || "";
    model = await (modelP || cubeModel(s.cube));
  } catch (err) {
    showError(err);
    if (cubes) options($("cube"), [["", T.choose_cube], ...cubes.map((c) => [c.name, c.label || c.name])], "");
    $("pivot").replaceChildren();
    markReady();
    return;
  }
  state = resolve(s, bad);
  showNotice(bad);
  writeUrl(false);
  renderControls();
  await Promise.all([refresh(), renderTimeRange()]);
}

$("cube").addEventListener("change", async (e) => {
  if (!e.target.value) return;
  window.history.pushState(null, "", `/browser?cube=${encodeURIComponent(e.target.value)}&lang=${LANG}`);
  await load();
});
$("chart-type").addEventListener("change", (e) => { state.chart = e.target.value; writeUrl(true); refresh(); });
$("chart-measure").addEventListener("change", (e) => { state.chartMeasure = e.target.value; writeUrl(true); refresh(); });
$("as-of").addEventListener("change", (e) => { state.asOf = e.target.value; changed(true); });
$("time-from").addEventListener("change", (e) => { state.from = e.target.value; changed(true); });
$("time-to").addEventListener("change", (e) => { state.to = e.target.value; changed(true); });
$("filter-search").addEventListener("input", renderFilterResults);
$("filter-dim").addEventListener("change", renderFilterResults);
$("controls").addEventListener("submit", (e) => e.preventDefault());
window.addEventListener("popstate", load);
load();
