// One indicator's table and chart by territory and time, from /indicator/<code>. The levels
// shown are in the URL (territory=…, time=…; empty: the total only), always one of the views
// the server offers. Totals are their own queries, as in the browser.
import { LANG, T, api, drawChart, el, measureFormat, numberCell, showError, statusLegend, unitLabel } from "./common.js";

const IND = JSON.parse(document.getElementById("indicator-data").textContent);
const $ = (id) => document.getElementById(id);
// The server names the axes and the views the asker may get: a publication role is offered only
// the breakdowns of its publication tables (docs/disclosure.md), so no choice here is refused.
const TIME = IND.dimensions.find((d) => d.name === IND.time) || null;
const TERR = IND.dimensions.find((d) => d.name === IND.territory) || null;
const VIEWS = IND.views;
const AXES = { territory: TERR, time: TIME };

const order = (axis) => (AXES[axis] ? AXES[axis].levels.map((l) => l.name).filter((n) => n !== "day") : []);
const rank = (axis, level) => (level === null ? -1 : order(axis).indexOf(level)); // null: the total only
const same = (a, b) => a.territory === b.territory && a.time === b.time;

/** The offered view nearest to `want`, keeping `hold`'s level where some view has it (the
 * other axis' nearest level, the coarser on a tie). */
function snap(want, hold) {
  if (VIEWS.some((v) => same(v, want))) return { ...want };
  const other = hold === "time" ? "territory" : "time";
  const target = rank(other, want[other]);
  const far = (v) => Math.abs(rank(other, v[other]) - target);
  const kept = VIEWS.filter((v) => v[hold] === want[hold])
    .sort((a, b) => far(a) - far(b) || rank(other, a[other]) - rank(other, b[other]));
  return { ...(kept[0] || VIEWS[0]) };
}

const q = new URLSearchParams(window.location.search);
const asked = (axis, fallback) => { // "": the total only; an unknown level: the default
  const level = q.has(axis) ? q.get(axis) || null : fallback;
  return level === null || order(axis).includes(level) ? level : fallback;
};
const first = (axis, preferred) => (order(axis).includes(preferred) ? preferred : order(axis)[0] ?? null);
const view = VIEWS.length
  ? snap({ territory: asked("territory", first("territory", null)), time: asked("time", first("time", "year")) }, "time")
  : null;

function fill(select, axis) {
  const dim = AXES[axis];
  select.closest("label").hidden = !dim || !view;
  if (!dim || !view) return;
  const offered = new Set(VIEWS.map((v) => v[axis]));
  const options = dim.levels.filter((l) => offered.has(l.name))
    .map((l) => el("option", { value: l.name, selected: l.name === view[axis] }, l.label));
  if (offered.has(null)) options.push(el("option", { value: "", selected: view[axis] === null }, T.total));
  select.replaceChildren(...options);
}

const path = `/indicator/${encodeURIComponent(IND.code)}`;
const dd = (...parts) => parts.filter(Boolean).join("|");

let renders = 0; // body[data-ready] counts finished renders (tests wait on it)

async function show() {
  const url = new URL(window.location.href);
  if (TERR) url.searchParams.set("territory", view.territory ?? "");
  if (TIME) url.searchParams.set("time", view.time ?? "");
  window.history.replaceState(null, "", url);
  fill($("territory-level"), "territory");
  fill($("time-level"), "time");
  const terr = TERR && view.territory ? `${TERR.name}:${view.territory}` : null;
  const time = TIME && view.time ? `${TIME.name}:${view.time}` : null;
  let main, byTime, byTerr;
  try {
    [main, byTime, byTerr] = await Promise.all([
      api(path, { drilldown: dd(terr, time), lang: LANG }),
      time ? api(path, { drilldown: time, lang: LANG }) : null,
      terr ? api(path, { drilldown: terr, lang: LANG }) : null,
    ]);
  } catch (err) {
    showError(err);
    $("table").replaceChildren();
    document.body.dataset.ready = String(++renders);
    return;
  }
  showError(null);
  const m = IND.measure;
  // A member is named by its whole path: a key is unique only under its parent (quarter 2 of each year).
  const key = (cell, dim, level) => {
    const levels = dim === TIME?.name ? TIME.levels : TERR.levels;
    const upto = levels.findIndex((l) => l.name === level);
    return levels.slice(0, upto + 1).map((l) => String(cell[`${dim}.${l.name}`])).join("\u0002");
  };
  const label = (cell, dim, level) => String(cell[`${dim}.${level}_label`] ?? T.none);
  const periods = byTime ? byTime.cells : [];
  const places = byTerr ? byTerr.cells : [];
  const cells = new Map(main.cells.map((c) => [
    `${terr ? key(c, TERR.name, view.territory) : ""}\u0001${time ? key(c, TIME.name, view.time) : ""}`, c]));

  const values = [main.summary[m], ...[main, byTime, byTerr].flatMap((a) => (a ? a.cells.map((c) => c[m]) : []))];
  const fmt = measureFormat({ unit: IND.unit, decimals: IND.decimals }, values);
  const title = `${IND.name} (${unitLabel(IND.unit)})`;
  const status = (cell) => (cell ? cell[`${m}:status`] ?? null : null); // docs/disclosure.md
  const value = (cell, period) => { // a number cell that names its column (the period, or the total)
    const td = numberCell(cell?.[m] ?? null, fmt, "td", status(cell));
    td.dataset.col = period ? label(period, TIME.name, view.time) : T.total;
    return td;
  };
  const table = el("table", { className: "pivot", id: "indicator-table" });
  table.append(el("caption", {}, `${IND.code} ${title}`));
  const head = el("tr", {}, el("th", { scope: "col" }, TERR ? TERR.label : ""));
  for (const p of periods) head.append(el("th", { scope: "col" }, label(p, TIME.name, view.time)));
  head.append(el("th", { scope: "col", className: "total" }, T.total));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  for (const place of places) {
    const pk = key(place, TERR.name, view.territory);
    const tr = el("tr", {}, el("th", { scope: "row" }, label(place, TERR.name, view.territory)));
    for (const p of periods) tr.append(value(cells.get(`${pk}\u0001${key(p, TIME.name, view.time)}`), p));
    tr.append(value(place, null));
    body.append(tr);
  }
  const total = el("tr", { className: "total" }, el("th", { scope: "row" }, T.total));
  for (const p of periods) total.append(value(p, p));
  total.append(value(main.summary, null));
  table.append(body, el("tfoot", {}, total));
  $("table").replaceChildren(table);
  const legend = statusLegend(table);
  if (legend) $("table").append(legend);

  const series = places.map((place) => ({
    label: label(place, TERR.name, view.territory),
    values: periods.map((p) => cells.get(`${key(place, TERR.name, view.territory)}\u0001${key(p, TIME.name, view.time)}`)?.[m] ?? null),
  }));
  if (time) {
    drawChart($("chart"), "line", periods.map((p) => label(p, TIME.name, view.time)),
      series.length ? series : [{ label: T.total, values: periods.map((p) => p[m]) }], title, fmt);
  } else { // no time axis: one bar per place
    drawChart($("chart"), "bar", places.map((p) => label(p, TERR.name, view.territory)),
      [{ label: T.total, values: places.map((p) => p[m] ?? null) }], title, fmt);
  }

  const box = $("export");
  box.replaceChildren(`${T.export}: `);
  for (const fmt of ["csv", "xlsx"]) {
    const p = new URLSearchParams({ drilldown: dd(terr, time), lang: LANG, header: "labels", format: fmt });
    if (fmt === "csv") p.set("bom", "true"); // so that Excel opens it as UTF-8
    box.append(el("a", { href: `${path}?${p}`, download: "", id: `export-${fmt}` }, fmt.toUpperCase()), " ");
  }
  document.body.dataset.ready = String(++renders);
}

const choose = (axis) => (e) => {
  Object.assign(view, snap({ ...view, [axis]: e.target.value || null }, axis));
  show();
};
$("territory-level").addEventListener("change", choose("territory"));
$("time-level").addEventListener("change", choose("time"));
$("indicator-controls").addEventListener("submit", (e) => e.preventDefault());
const lang = $("lang-switch");
lang.addEventListener("click", () => {
  const url = new URL(window.location.href);
  url.searchParams.set("lang", LANG === "en" ? "lv" : "en");
  lang.href = url.toString();
});
if (view) show();
else {
  fill($("territory-level"), "territory");
  fill($("time-level"), "time");
  showError({ error: "forbidden", message: T.no_views, local: true });
  document.body.dataset.ready = String(++renders);
}
