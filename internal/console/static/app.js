// The eventfold console. Every piece of data is put on the page with
// textContent or setAttribute, never as HTML: stream IDs, event types and
// metadata are input from anyone who can send a command.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d"];

// The token arrives once as ?token=; keep it for this tab and take it out
// of the address bar (and so of the history and of screenshots).
(function takeToken() {
  const url = new URL(location.href);
  const t = url.searchParams.get("token");
  if (t !== null) {
    sessionStorage.setItem("eventfold-console-token", t);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
})();

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function showError(msg) {
  const box = document.getElementById("error");
  box.textContent = msg || "";
  box.hidden = !msg;
}

class Unauthorized extends Error {}

async function api(path) {
  const headers = { "Accept": "application/json" };
  const token = sessionStorage.getItem("eventfold-console-token");
  if (token) headers["Authorization"] = "Bearer " + token;
  const resp = await fetch(path, { headers, cache: "no-store" });
  if (resp.status === 401) {
    document.getElementById("token-form").hidden = false;
    throw new Unauthorized("This console needs a token.");
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function guard(f) {
  return async (...args) => {
    try {
      await f(...args);
      showError("");
    } catch (e) {
      showError(e instanceof Unauthorized ? e.message : "Could not load: " + e.message);
    }
  };
}

const projectionLabel = (name, tenant) => tenant ? name + " / " + tenant : name;
const short = (id) => id && id.length > 13 ? id.slice(0, 8) + "…" + id.slice(-4) : (id || "");
const fmtTime = (t) => new Date(t).toLocaleTimeString();

function linkTo(hash, text, attrs) {
  return el("a", Object.assign({ href: hash }, attrs || {}), text);
}
// The tenant being browsed travels in the hash, after the route:
// #/streams/<id>?tenant=<tenant>. Stream IDs are encoded, so the first "?"
// starts the query.
let tenant = "";
let allTenants = false;
function withTenant(hash, t, all) {
  const q = new URLSearchParams();
  if (t) q.set("tenant", t);
  if (all) q.set("all_tenants", "true");
  const s = q.toString();
  return s ? hash + "?" + s : hash;
}
const streamHash = (id, t) => withTenant("#/streams/" + encodeURIComponent(id), t === undefined ? tenant : t);
const correlationHash = (id, all) => withTenant("#/correlation/" + encodeURIComponent(id), all ? "" : tenant, all);
const tenantQuery = (q) => { if (tenant) q.set("tenant", tenant); return q; };
const tenantLabel = (t) => t || "(default)";

// --- projections -------------------------------------------------------

const loadProjections = guard(async () => {
  const [ps, hist, held] = await Promise.all([api("api/projections"), api("api/projections/lag-history"), api("api/log/held-back")]);
  // An open transaction hides committed events from every projection, which
  // shows only as lag: say why above the table.
  const banner = document.getElementById("held-back");
  banner.hidden = !(held.supported && held.events > 0);
  banner.textContent = banner.hidden ? "" :
    (held.events === 1 ? "1 committed event is" : held.events + " committed events are") +
    " held back from every projection by a transaction open for " +
    Math.round(held.oldest_open_seconds) + " s. They appear once it ends; `eventfold horizon` shows which to end.";
  const body = document.querySelector("#projections tbody");
  // Grouped by tenant (the API sorts them so), with a heading row per
  // tenant once there is more than the default one.
  const grouped = ps.some((p) => p.tenant);
  const rows = [];
  ps.forEach((p, i) => {
    if (grouped && (i === 0 || ps[i - 1].tenant !== p.tenant)) {
      rows.push(el("tr", { class: "group", "data-group": p.tenant },
        el("th", { colspan: "9" }, "Tenant ", el("span", { class: "mono" }, tenantLabel(p.tenant)))));
    }
    rows.push(projectionRow(p));
  });
  body.replaceChildren(...rows);
  document.getElementById("projections-empty").hidden = ps.length > 0;
  drawChart(hist);
});

function projectionRow(p) {
  return el("tr", { "data-projection": p.name, "data-tenant": p.tenant },
    el("td", { class: "name" }, p.name),
    el("td", {}, p.tenant || "—"),
    el("td", {}, p.version || "—", p.latest_version && p.latest_version !== p.version
      ? el("span", { class: "muted" }, " (building " + p.latest_version + ")") : null),
    el("td", { class: "num" }, p.partitions),
    el("td", { class: "mono", title: p.positions.join(", ") }, p.position || "—"),
    el("td", { class: "mono" }, p.head),
    el("td", { class: "num" }, p.lag_events),
    el("td", { class: "num" }, p.lag_seconds ? p.lag_seconds.toFixed(1) : "0"),
    el("td", {}, el("span", { class: "state state-" + p.state.replace(/ /g, "-") }, p.state)));
}

// drawChart draws every projection's lag in events as one line of an SVG
// chart: time on x, events on y, from 0 to the highest lag seen.
function drawChart(hist) {
  const box = document.getElementById("lag-chart");
  const legend = document.getElementById("lag-legend");
  const series = hist.series.filter((s) => s.samples.length > 0);
  document.getElementById("lag-unit").textContent =
    "events behind the head, sampled every " + hist.interval_seconds + " s";
  const W = 900, H = 220, L = 50, R = 10, T = 10, B = 24;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "projection lag over time" });
  let t0 = Infinity, t1 = -Infinity, ymax = 1;
  for (const s of series) for (const p of s.samples) {
    const t = Date.parse(p.at);
    t0 = Math.min(t0, t); t1 = Math.max(t1, t); ymax = Math.max(ymax, p.lag_events);
  }
  // Show at least 30 sampling intervals, so a fresh console's few points
  // start at the right instead of filling the width.
  const span = 30 * hist.interval_seconds * 1000;
  if (!series.length) { t1 = Date.now(); t0 = t1 - span; }
  if (t1 - t0 < span) t0 = t1 - span;
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => T + (1 - v / ymax) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = Math.round(ymax * i / 4);
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    const label = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" });
    label.textContent = String(v);
    chart.append(label);
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    const label = svg("text", { x: x(t), y: H - 6, "text-anchor": anchor, class: "axis" });
    label.textContent = fmtTime(t);
    chart.append(label);
  }
  const items = [];
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.samples.map((p) => x(Date.parse(p.at)).toFixed(1) + "," + y(p.lag_events).toFixed(1));
    chart.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    const last = s.samples[s.samples.length - 1];
    chart.append(svg("circle", { cx: x(Date.parse(last.at)), cy: y(last.lag_events), r: 3, fill: color }));
    const swatch = el("i");
    swatch.style.background = color; // through the CSSOM: the CSP forbids style attributes
    items.push(el("span", { class: "key" }, swatch,
      projectionLabel(s.name, s.tenant) + ": " + last.lag_events));
  });
  box.replaceChildren(chart);
  legend.replaceChildren(...items);
}

// --- streams -----------------------------------------------------------

let streamsAfter = "";
let streamsSeq = 0; // a slower, older answer must not replace a newer one

const loadStreams = guard(async (more) => {
  const prefix = document.getElementById("stream-prefix").value;
  if (!more) streamsAfter = "";
  const seq = ++streamsSeq;
  const q = tenantQuery(new URLSearchParams({ prefix, after: streamsAfter, limit: "50" }));
  const page = await api("api/streams?" + q);
  if (seq !== streamsSeq) return;
  const list = document.getElementById("streams");
  const items = page.streams.map((s) => el("li", { "data-stream": s.id },
    linkTo(streamHash(s.id), s.id, { class: "mono" }), el("span", { class: "muted" }, " v" + s.version)));
  if (more) list.append(...items); else list.replaceChildren(...items);
  if (page.streams.length) streamsAfter = page.streams[page.streams.length - 1].id;
  document.getElementById("streams-more").hidden = !page.more;
});

function dataCell(data) {
  const text = typeof data === "string" ? "(base64) " + data : JSON.stringify(data);
  return el("td", {}, el("code", { class: "data", title: text }, text.length > 160 ? text.slice(0, 160) + "…" : text));
}

const loadStream = guard(async (id) => {
  document.getElementById("stream-title").textContent = id;
  document.getElementById("stream-id").value = id;
  const body = document.querySelector("#stream-events tbody");
  body.replaceChildren();
  const page = await api("api/streams/" + encodeURIComponent(id) + "?" + tenantQuery(new URLSearchParams({ limit: "200" })));
  body.replaceChildren(...page.events.map((e) => el("tr", { "data-event": e.id },
    el("td", { class: "num" }, e.version),
    el("td", { class: "type" }, e.type),
    el("td", { class: "mono" }, e.position),
    el("td", { title: e.recorded_at }, fmtTime(e.recorded_at)),
    el("td", {}, e.metadata.correlation_id
      ? linkTo(correlationHash(e.metadata.correlation_id), short(e.metadata.correlation_id), { class: "mono", title: e.metadata.correlation_id })
      : "—"),
    el("td", { class: "mono", title: e.metadata.causation_id || "" }, short(e.metadata.causation_id) || "—"),
    dataCell(e.data))));
  const empty = document.getElementById("stream-empty");
  empty.textContent = page.more ? "Showing the first 200 events." : (page.events.length ? "" : "No events.");
  empty.hidden = !empty.textContent;
});

// --- correlation -------------------------------------------------------

const loadCorrelation = guard(async (id) => {
  document.getElementById("correlation-id").value = id;
  document.getElementById("correlation-all").checked = allTenants;
  const q = allTenants ? new URLSearchParams({ all_tenants: "true" }) : tenantQuery(new URLSearchParams());
  const flow = await api("api/correlation/" + encodeURIComponent(id) + "?" + q);
  const byID = new Map(flow.events.map((e) => [e.id, e]));
  document.getElementById("commands").replaceChildren(...flow.commands.map((c) => el("li", { "data-command": c.id },
    el("span", { class: "mono", title: c.id }, "command " + short(c.id)), " → ",
    ...c.events.flatMap((eid, i) => {
      const e = byID.get(eid);
      return [i ? ", " : "", linkTo(streamHash(e.stream, e.tenant), e.type + " on " + e.stream, { class: "type" })];
    }))));
  document.querySelector("#correlation-events tbody").replaceChildren(...flow.events.map((e) => el("tr", { "data-event": e.id },
    el("td", { class: "mono" }, e.position),
    el("td", { class: "tenant" }, tenantLabel(e.tenant)),
    el("td", {}, linkTo(streamHash(e.stream, e.tenant), e.stream, { class: "mono" })),
    el("td", { class: "num" }, e.version),
    el("td", { class: "type" }, e.type),
    el("td", { class: "mono", title: e.metadata.causation_id || "" }, short(e.metadata.causation_id) || "—"),
    el("td", {}, ...(e.projections || []).map((p) =>
      el("span", { class: "badge " + p.state, title: p.state }, projectionLabel(p.name, p.tenant) + (p.state === "applied" ? " ✓" : " …")))))));
  const empty = document.getElementById("correlation-empty");
  empty.textContent = flow.events.length ? (flow.truncated ? "Showing the first " + flow.events.length + " events." : "")
    : "No event carries this correlation ID.";
  empty.hidden = !empty.textContent;
});

// --- navigation --------------------------------------------------------

let timer = null;

// loadTenants fills the tenant field's suggestions from the catalog, and
// hides the field when the store has no tenants or the console is fixed
// to one.
const loadTenants = guard(async () => {
  const info = await api("api/tenants");
  document.getElementById("tenant-list").replaceChildren(...info.tenants.map((t) => el("option", { value: t })));
  document.getElementById("tenant-form").hidden = !info.supported || !!info.fixed;
  document.getElementById("correlation-all-label").hidden = !info.supported || !!info.fixed;
  const fixed = document.getElementById("tenant-fixed");
  fixed.textContent = info.fixed ? "tenant " + info.fixed : "";
  fixed.hidden = !info.fixed;
});

let lastTenant = null;

function route() {
  const qmark = location.hash.indexOf("?");
  const path = qmark < 0 ? location.hash : location.hash.slice(0, qmark);
  const params = new URLSearchParams(qmark < 0 ? "" : location.hash.slice(qmark + 1));
  tenant = params.get("tenant") || "";
  allTenants = params.get("all_tenants") === "true";
  document.getElementById("tenant").value = tenant;
  if (lastTenant !== null && lastTenant !== tenant) {
    // Another tenant: drop the previous tenant's list and stream.
    document.getElementById("streams").replaceChildren();
    document.querySelector("#stream-events tbody").replaceChildren();
    document.getElementById("stream-title").textContent = "";
  }
  lastTenant = tenant;
  for (const a of document.querySelectorAll("nav a")) a.setAttribute("href", withTenant("#/" + a.dataset.view, tenant));
  const [, view = "projections", ...rest] = path.split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  const name = ["projections", "streams", "correlation"].includes(view) ? view : "projections";
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + name;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === name);
  clearInterval(timer);
  if (name === "projections") {
    loadProjections();
    timer = setInterval(loadProjections, 5000);
  } else if (name === "streams") {
    if (!document.getElementById("streams").children.length) loadStreams(false);
    if (arg) loadStream(arg);
  } else if (name === "correlation" && arg) {
    loadCorrelation(arg);
  }
}

function onSubmit(id, f) {
  document.getElementById(id).addEventListener("submit", (ev) => { ev.preventDefault(); f(); });
}

onSubmit("stream-search", () => loadStreams(false));
onSubmit("stream-open", () => { location.hash = streamHash(document.getElementById("stream-id").value); });
onSubmit("correlation-search", () => {
  location.hash = correlationHash(document.getElementById("correlation-id").value.trim(), document.getElementById("correlation-all").checked);
});
onSubmit("tenant-form", () => {
  // Another tenant: the same view, without the previous tenant's stream.
  const view = (location.hash.split("?")[0].split("/")[1]) || "projections";
  location.hash = withTenant("#/" + view, document.getElementById("tenant").value);
});
onSubmit("token-form", () => {
  sessionStorage.setItem("eventfold-console-token", document.getElementById("token-input").value);
  document.getElementById("token-form").hidden = true;
  route();
});
document.getElementById("streams-more").addEventListener("click", () => loadStreams(true));
window.addEventListener("hashchange", route);
loadTenants();
route();
