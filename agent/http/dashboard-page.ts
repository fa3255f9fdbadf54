// The dashboard: one page, plain JS, no build; its only asset is the uPlot chart library, served by
// the gateway itself (agent/http/static-assets.ts) since gateways are often offline. Light theme with large type for a
// tablet on a warehouse floor. Data arrives by /api/state then /api/events (server-sent events);
// everything is rendered with textContent, never as HTML, since values come from PLCs and the network.
const PAGE = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wms-gateway</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uplot.css" nonce="__NONCE__">
<style nonce="__NONCE__">
:root{--ok:#1b7f3b;--warn:#a15c00;--bad:#b3261e;--mute:#5f6368;--line:#dadce0;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;font:17px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:#202124}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.8rem 1.2rem;background:#fff;border-bottom:1px solid var(--line)}
header h1{font-size:1.3rem;margin:0}.mute{color:var(--mute)}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem;padding:1rem}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:.8rem 1rem;min-width:0}
section h2{font-size:1.05rem;margin:.1rem 0 .6rem;text-transform:uppercase;letter-spacing:.04em;color:var(--mute)}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:99px;font-weight:600;color:#fff;background:var(--mute)}
.ok,.connected,.online,.alive{background:var(--ok)}.degraded,.warning,.starting,.renewing,.expiring,.silent{background:var(--warn)}.failing,.critical,.disconnected,.offline,.expired{background:var(--bad)}
table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:.3rem .2rem;border-bottom:1px solid var(--line);vertical-align:top}
td.v{font-variant-numeric:tabular-nums;font-weight:600;text-align:right}td.bad{color:var(--bad)}
.plc{margin-bottom:1rem}.plc h3{display:flex;justify-content:space-between;align-items:center;margin:.2rem 0;font-size:1.1rem}
ul{margin:0;padding-left:1.1rem}li{margin:.2rem 0}.small{font-size:.85rem}
button{font:inherit;padding:.45rem .9rem;border-radius:8px;border:1px solid var(--line);background:#fff;cursor:pointer}
input{font:inherit;padding:.4rem;border:1px solid var(--line);border-radius:8px;width:100%}
.row{display:flex;gap:.5rem;flex-wrap:wrap;margin:.4rem 0}#live.on{background:var(--ok)}section h2.sp{margin-top:1rem}
section.wide{grid-column:1/-1}td.q{width:7.5rem;font-size:.8rem;color:var(--mute);white-space:nowrap}td.spark{width:190px;padding:0 .3rem}
tr.tag{cursor:pointer}tr.tag.sel th{color:#1a73e8}tr.stale td.v{color:var(--mute)}tr.stale td.q{color:var(--warn);font-weight:600}
.qb{display:inline-block;min-width:2.6rem;text-align:center;border-radius:4px;padding:0 .3rem;color:#fff;background:var(--ok)}.qb.bad{background:var(--bad)}.qb.stale{background:var(--warn)}
.trend{margin:.5rem 0 .2rem}.trend .title{font-size:.85rem;color:var(--mute)}td.wr{white-space:nowrap}td.wr input{width:6.5rem;padding:.15rem .3rem}td.wr button{padding:.15rem .5rem;font-size:.85rem}
.wres{font-size:.85rem;min-height:1.2em}
</style></head>
<body>
<header><h1>wms-gateway <span id="gw" class="mute"></span></h1>
<span>health <span id="health" class="badge">…</span></span>
<span>version <b id="version">–</b></span><span>uptime <b id="uptime">–</b></span>
<span class="badge" id="live">offline</span></header>
<main>
<section id="plcs-card" class="wide"><h2>PLC links and live values</h2><div id="plcs"><p class="mute">No PLC configured.</p></div></section>
<section><h2>WMS link</h2><table><tbody>
<tr><th>state</th><td id="wms-state"></td></tr><tr><th>broker</th><td id="wms-url" class="small"></td></tr>
<tr><th>since</th><td id="wms-since" class="small"></td></tr><tr><th>reconnects</th><td id="wms-reconnects"></td></tr>
<tr><th>WMS heartbeat</th><td id="wms-peer"></td></tr><tr><th>delivery</th><td id="wms-delivery" class="small"></td></tr></tbody></table>
<h2 class="sp">Outbox</h2><table><tbody>
<tr><th>messages waiting</th><td id="outbox-messages" class="v"></td></tr><tr><th>bytes</th><td id="outbox-bytes" class="v"></td></tr>
<tr><th>dropped</th><td id="outbox-dropped" class="v"></td></tr></tbody></table>
</section>
<section><h2>Health</h2><table><tbody id="checks"></tbody></table><h2 class="sp">Alerts</h2><ul id="alerts" class="small"><li class="mute">none</li></ul></section>
<section><h2>Identity</h2><table><tbody id="identity"></tbody></table><h2 class="sp">Trust</h2><table><tbody id="trust"></tbody></table></section>
<section><h2>OTA</h2><table><tbody id="ota"></tbody></table><h2 class="sp">Update history</h2><ul id="ota-history" class="small"></ul></section>
<section><h2>Maintenance</h2><p id="window" class="small">no maintenance window configured</p><ul id="maintenance" class="small"><li class="mute">no run yet</li></ul>
<div class="row"><input id="token" type="password" placeholder="token ($DATA_DIR/http-token) for actions and writes" autocomplete="off"></div>
<div class="row"><button data-job="integrityCheck">Integrity check</button><button data-job="logRotation">Rotate logs</button><button data-backup="full">Full backup</button><button data-backup="diff">Differential backup</button></div>
<div id="action-result" class="small mute"></div></section>
</main>
<script nonce="__NONCE__" src="/assets/uplot.js"></script>
<script nonce="__NONCE__">
"use strict";
var state = { plcs: [] };
// Trends: the last TREND_S seconds of every numeric tag, from the event stream (nothing stored on the
// gateway); sparklines for the first MAX_SPARKS tags, a detailed chart for the tag clicked.
var TREND_S = 600, MAX_SPARKS = 64, series = {}, sparks = {}, meta = {}, reads = {}, changed = {}, selected = {}, details = {};
function key(plc, tag) { return plc + "\u0000" + tag; }
function record(plc, ts, values) {
  var t = (Date.parse(ts) || Date.now()) / 1000, cut = t - TREND_S;
  Object.keys(values).forEach(function (tag) {
    var v = values[tag], k = key(plc, tag);
    if (changed[k] >= t * 1000) return; // a snapshot re-read, not a new reading
    changed[k] = t * 1000;
    if (typeof v === "boolean") v = v ? 1 : 0;
    if (typeof v !== "number" || !isFinite(v)) return;
    var s = series[k] || (series[k] = [[], []]); s[0].push(t); s[1].push(v);
    var n = 0; while (n < s[0].length && s[0][n] < cut) n++;
    if (n) { s[0].splice(0, n); s[1].splice(0, n); }
  });
}
function sparkline(plc, tag, td) {
  var k = key(plc, tag);
  if (sparks[k] || !series[k] || typeof uPlot === "undefined" || Object.keys(sparks).length >= MAX_SPARKS) return;
  sparks[k] = new uPlot({ width: 180, height: 40, cursor: { show: false }, legend: { show: false }, select: { show: false },
    axes: [{ show: false }, { show: false }], scales: { x: { time: true } },
    series: [{}, { stroke: "#1a73e8", width: 1.5, fill: "rgba(26,115,232,.08)", points: { show: false } }] }, series[k], td);
}
function detail(plc) {
  var box = document.querySelector('.plc[data-plc="' + CSS.escape(plc) + '"]'), tag = selected[plc];
  if (!box || !tag || typeof uPlot === "undefined") return;
  var wrap = box.querySelector(".trend"), k = key(plc, tag), s = series[k] || [[], []];
  wrap.querySelector(".title").textContent = tag + " · last " + TREND_S / 60 + " min" + (s[1].length ? " · min " + fmtVal(Math.min.apply(null, s[1])) + " · max " + fmtVal(Math.max.apply(null, s[1])) : " · no numeric value yet");
  var d = details[plc];
  if (d && d.k !== k) { d.chart.destroy(); d = details[plc] = undefined; }
  if (!d) {
    var w = Math.max(280, wrap.clientWidth - 10);
    d = details[plc] = { k: k, chart: new uPlot({ width: w, height: 200, legend: { show: false }, scales: { x: { time: true } },
      series: [{}, { label: tag, stroke: "#1a73e8", width: 2 }] }, s, wrap.querySelector(".chart")) };
  } else d.chart.setData(s);
}
function redrawTrends() {
  Object.keys(sparks).forEach(function (k) { if (series[k]) sparks[k].setData(series[k]); });
  Object.keys(selected).forEach(detail);
}
function markStale() {
  var now = Date.now();
  Object.keys(meta).forEach(function (plc) {
    var box = document.querySelector('.plc[data-plc="' + CSS.escape(plc) + '"]'); if (!box) return;
    var r = reads[plc] || {}, limit = meta[plc].staleAfterMs || 3000;
    var last = Date.parse(r.lastReadTs || "") || 0;
    var stale = r.state === "disconnected" || !last || now - last > limit;
    box.querySelectorAll("tr.tag").forEach(function (tr) {
      var tag = tr.getAttribute("data-tag"), td = tr.querySelector("td.q"), k = key(plc, tag);
      var bad = tr.querySelector("td.v.bad") !== null;
      tr.classList.toggle("stale", stale);
      clear(td);
      td.appendChild(el("span", "qb" + (stale ? " stale" : bad ? " bad" : ""), stale ? "stale" : bad ? "bad" : "good"));
      var age = changed[k] ? Math.max(0, Math.round((now - changed[k]) / 1000)) : null;
      td.appendChild(document.createTextNode(age === null ? "" : " " + fmtAge(age)));
      td.title = (stale ? "no read for " + (last ? Math.round((now - last) / 1000) + " s" : "ever") + " (stale after " + limit / 1000 + " s); " : "") + (age === null ? "" : "value changed " + age + " s ago");
    });
  });
}
function fmtAge(s) { return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min" : Math.floor(s / 3600) + " h"; }
function parseInput(type, text) {
  text = text.trim();
  if (type === "bool") return text === "true" || text === "1" || text === "on";
  if (type === "string") return text;
  if (/^-?\d+$/.test(text) && (type === "int64" || type === "uint64")) return text.length > 15 ? text : Number(text);
  return Number(text);
}
function writeTag(plc, tag, input, out) {
  var m = (meta[plc].tags || []).filter(function (t) { return t.name === tag; })[0] || { type: "float32" };
  var values = {}; values[tag] = parseInput(m.type, input.value);
  var tok = $("token").value.trim(); if (tok) localStorage.setItem("wmsgw-token", tok);
  out.textContent = "writing " + tag + "…"; out.className = "wres mute";
  fetch("/api/write", { method: "POST", headers: { "Content-Type": "application/json", "Authorization": "Bearer " + tok }, body: JSON.stringify({ plc: plc, values: values }) })
    .then(function (r) { return r.json().then(function (j) {
      if (r.status === 401) { out.textContent = "refused: the token is missing or wrong"; out.className = "wres bad"; return; }
      if (!j.ack) { out.textContent = "refused: " + (j.error || r.status); out.className = "wres bad"; return; }
      if (j.ack.status !== "accepted") { out.textContent = "refused: " + j.ack.reason; out.className = "wres bad"; return; }
      var res = j.result || {};
      out.textContent = res.status === "ok" ? "written " + tag + " = " + fmtVal(values[tag]) + (res.values && res.values[tag] !== undefined ? " (read back " + fmtVal(res.values[tag]) + ")" : "") : "PLC error: " + (res.error || "?");
      out.className = "wres " + (res.status === "ok" ? "" : "bad");
    }); })
    .catch(function (e) { out.textContent = "failed: " + e; out.className = "wres bad"; });
}
function $(id) { return document.getElementById(id); }
function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = String(text); return e; }
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
function fmtBytes(n) { n = Number(n) || 0; var u = ["B","KiB","MiB","GiB"], i = 0; while (n >= 1024 && i < 3) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; }
function fmtDur(s) { s = Math.floor(Number(s) || 0); var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60); return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s"; }
function fmtVal(v) { if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, ""); if (v === null || v === undefined) return "–"; return typeof v === "object" ? JSON.stringify(v) : String(v); }
function badge(text) { return el("span", "badge " + String(text), text); }
function kv(tbody, k, v) { var tr = el("tr"); tr.appendChild(el("th", "", k)); tr.appendChild(el("td", "small", fmtVal(v))); tbody.appendChild(tr); }

function renderPlc(p) {
  var box = document.querySelector('.plc[data-plc="' + CSS.escape(p.id) + '"]');
  if (!box) {
    box = el("div", "plc"); box.setAttribute("data-plc", p.id);
    var h = el("h3"); h.appendChild(el("span", "", p.id)); h.appendChild(el("span", "badge")); box.appendChild(h);
    box.appendChild(el("div", "small mute err"));
    var t = el("table"); t.appendChild(el("tbody")); box.appendChild(t);
    var tr0 = el("div", "trend"); tr0.appendChild(el("div", "title", "click a tag for its trend")); tr0.appendChild(el("div", "chart")); box.appendChild(tr0);
    box.appendChild(el("div", "wres"));
    $("plcs").appendChild(box);
  }
  meta[p.id] = { tags: p.tags || (meta[p.id] || {}).tags || [], staleAfterMs: p.staleAfterMs || (meta[p.id] || {}).staleAfterMs };
  reads[p.id] = { state: p.state, lastReadTs: p.lastReadTs };
  meta[p.id].tags.forEach(function (t) { tagRow(box, p.id, t.name); });
  if (p.values) record(p.id, p.lastReadTs || new Date().toISOString(), p.values);
  var b = box.querySelector("h3 .badge"); b.textContent = p.state; b.className = "badge " + p.state;
  box.querySelector(".err").textContent = [p.error, p.lastReadTs ? "last read " + new Date(p.lastReadTs).toLocaleTimeString() : ""].filter(Boolean).join(" · ");
  updateValues(p.id, p.values || {}, p.quality || {});
}
function updateValues(plc, values, quality) {
  var box = document.querySelector('.plc[data-plc="' + CSS.escape(plc) + '"]');
  if (!box) { renderPlc({ id: plc, state: "connected", values: values, quality: quality }); return; }
  Object.keys(values).forEach(function (tag) {
    var tr = tagRow(box, plc, tag), td = tr.querySelector("td.v");
    td.textContent = fmtVal(values[tag]);
    td.className = "v" + (quality && quality[tag] === "bad" ? " bad" : "");
    sparkline(plc, tag, tr.querySelector("td.spark"));
  });
}
function tagRow(box, plc, tag) {
  var tbody = box.querySelector("tbody");
  var tr = tbody.querySelector('tr[data-tag="' + CSS.escape(tag) + '"]');
  if (tr) return tr;
  tr = el("tr", "tag"); tr.setAttribute("data-tag", tag);
  tr.appendChild(el("th", "", tag));
  var td = el("td", "v", "–"); td.setAttribute("data-tag", tag); tr.appendChild(td);
  tr.appendChild(el("td", "q")); tr.appendChild(el("td", "spark"));
  var wr = el("td", "wr"), m = ((meta[plc] || {}).tags || []).filter(function (t) { return t.name === tag; })[0];
  if (m && m.writable) {
    var inp = el("input"); inp.setAttribute("aria-label", "new value of " + tag);
    inp.placeholder = m.type === "bool" ? "true / false" : m.min !== undefined || m.max !== undefined ? (m.min !== undefined ? m.min : "…") + " – " + (m.max !== undefined ? m.max : "…") : m.type;
    var b = el("button", "", "Write"); b.setAttribute("data-write", tag);
    b.addEventListener("click", function (e) { e.stopPropagation(); writeTag(plc, tag, inp, box.querySelector(".wres")); });
    inp.addEventListener("click", function (e) { e.stopPropagation(); });
    wr.appendChild(inp); wr.appendChild(b);
  }
  tr.appendChild(wr);
  tr.addEventListener("click", function () {
    box.querySelectorAll("tr.tag.sel").forEach(function (x) { x.classList.remove("sel"); });
    tr.classList.add("sel"); selected[plc] = tag; detail(plc);
  });
  tbody.appendChild(tr);
  return tr;
}
function renderIdentity(c) {
  var tb = $("identity"); clear(tb);
  if (!c || typeof c !== "object") { kv(tb, "client certificate", "none (no mutual TLS)"); return; }
  var tr = el("tr"); tr.appendChild(el("th", "", "certificate")); var td = el("td", "small"); td.appendChild(badge(c.status === "ok" ? "ok" : c.status === "renewing" || c.status === "expiring" ? "warning" : "critical")); td.appendChild(document.createTextNode(" " + c.status)); tr.appendChild(td); tb.appendChild(tr);
  if (c.subject) kv(tb, "subject", c.subject);
  if (c.serial) kv(tb, "serial", c.serial);
  if (c.notAfter) kv(tb, "expires", new Date(c.notAfter).toLocaleString() + " (" + Math.floor((Date.parse(c.notAfter) - Date.now()) / 86400000) + " days)");
  if (c.renewAt) kv(tb, "renews at", new Date(c.renewAt).toLocaleString());
  if (c.phase) kv(tb, "renewal", c.phase);
  if (c.error) kv(tb, "error", c.error + (c.detail ? ": " + c.detail : ""));
}
function renderTrust(t) {
  var tb = $("trust"); clear(tb);
  if (!t || typeof t !== "object" || !t.version) { kv(tb, "policy", "none: only the keys of the local config file"); if (t && t.roots && t.roots.length) kv(tb, "roots", t.roots.join(", ")); return; }
  kv(tb, "policy version", t.version); kv(tb, "status", t.status + (t.error ? ": " + t.error : ""));
  if (t.roots) kv(tb, "roots", t.roots.join(", "));
  (t.keys || []).forEach(function (k) { kv(tb, "key " + k.kid, (k.roles || []).join(", ") + (k.plcs ? " · PLCs " + k.plcs.join(", ") : "") + (k.exp ? " · until " + new Date(k.exp * 1000).toLocaleDateString() : "")); });
  if (t.appliedAt) kv(tb, "applied", new Date(t.appliedAt).toLocaleString());
}
function renderWindow(w) {
  var p = $("window");
  if (!w || typeof w !== "object" || !w.start) { p.textContent = "no maintenance window configured"; return; }
  p.textContent = (w.state === "started" ? "maintenance window now: " : w.state === "ended" ? "last window: " : "next window: ") + new Date(w.start).toLocaleString() + " – " + new Date(w.end).toLocaleTimeString() + (w.jobs && w.jobs.length ? " · " + w.jobs.join(", ") : "");
}
function renderHealth(h) {
  if (!h) return;
  var b = $("health"); b.textContent = h.state || h.status; b.className = "badge " + (h.state || h.status);
  var tb = $("checks"); clear(tb);
  (h.checks || []).forEach(function (c) { var tr = el("tr"); tr.appendChild(el("th", "", c.name)); var td = el("td", "small"); td.appendChild(badge(c.level)); td.appendChild(document.createTextNode(" " + c.message)); tr.appendChild(td); tb.appendChild(tr); });
}
function renderAlerts(list) {
  var ul = $("alerts"); clear(ul);
  if (!list || !list.length) { ul.appendChild(el("li", "mute", "none")); return; }
  list.slice(-20).reverse().forEach(function (a) { var li = el("li"); li.appendChild(badge(a.level)); li.appendChild(document.createTextNode(" " + new Date(a.ts).toLocaleString() + " " + a.code + ": " + a.message)); ul.appendChild(li); });
}
function renderOta(o) {
  // The retained ota/state payload (ota/agent/state-payload.ts): slots factory/a/b, phase, history of moves.
  var tb = $("ota"); clear(tb); var hist = $("ota-history"); clear(hist);
  if (!o || typeof o !== "object") { kv(tb, "state", "not available"); return; }
  var slots = o.slots || {};
  var act = slots[o.active];
  kv(tb, "active", o.active + (act && act.version ? " (" + act.version + ")" : ""));
  kv(tb, "phase", o.phase + (o.phase === "Downloading" && o.progress ? " " + Math.round(o.progress * 100) + " %" : ""));
  if (o.update && o.phase !== "Idle") kv(tb, "update", o.update.id + (o.update.target === "plc-map" ? " (PLC map)" : ""));
  if (o.waitsForWindow) kv(tb, "switch", "waits for the maintenance window " + new Date(o.waitsForWindow.start).toLocaleString() + " – " + new Date(o.waitsForWindow.end).toLocaleTimeString());
  if (o.error) kv(tb, "error", o.error.reason + ": " + o.error.message);
  if (o.plcMap) kv(tb, "PLC map", o.plcMap.name + " " + o.plcMap.version);
  ["factory", "a", "b"].forEach(function (s) {
    var v = slots[s];
    kv(tb, "slot " + s, v ? (v.name ? v.name + " " : "") + v.version + (s === o.active ? " · active" : "") : "empty");
  });
  (o.history || []).slice(-10).reverse().forEach(function (h) {
    hist.appendChild(el("li", "", [new Date(h.ts).toLocaleString(), h.from + " → " + h.to, h.update, h.reason ? "(" + h.reason + ")" : "", h.message].filter(Boolean).join(" · ")));
  });
}

function renderMaintenance(list) {
  var ul = $("maintenance"); clear(ul);
  if (!list || !list.length) { ul.appendChild(el("li", "mute", "no run yet")); return; }
  list.slice(-12).reverse().forEach(function (r) {
    var li = el("li"); li.appendChild(badge(r.problems && r.problems.length ? "warning" : "ok"));
    li.appendChild(document.createTextNode(" " + new Date(r.startedAt).toLocaleString() + " " + r.job + " · " + (r.durationMs / 1000).toFixed(1) + " s" + (r.problems && r.problems.length ? " · " + r.problems.join("; ") : "")));
    ul.appendChild(li);
  });
}
function render(s) {
  state = s;
  $("gw").textContent = s.gateway ? s.gateway.tenant + " / " + s.gateway.id : "";
  $("version").textContent = s.gateway ? s.gateway.version : "–";
  $("uptime").textContent = s.gateway ? fmtDur(s.gateway.uptimeS) : "–";
  if (s.plcs && s.plcs.length) { var p0 = $("plcs").querySelector("p"); if (p0) p0.remove(); s.plcs.forEach(renderPlc); }
  renderIdentity(s.identity); renderTrust(s.trust); renderWindow(s.maintenanceWindow); markStale();
  var w = s.wms || {}; var ws = $("wms-state"); clear(ws); ws.appendChild(badge(w.connected ? "connected" : "disconnected"));
  $("wms-url").textContent = w.url || "–"; $("wms-since").textContent = w.since || "–"; $("wms-reconnects").textContent = fmtVal(w.reconnects);
  var pe = $("wms-peer"); clear(pe); var peer = w.peer || { state: "off" };
  if (peer.state === "off") pe.textContent = "not watched"; else { pe.appendChild(badge(peer.state)); if (peer.lastHeartbeat) pe.appendChild(document.createTextNode(" last " + peer.lastHeartbeat)); }
  $("wms-delivery").textContent = w.delivery === "wms-ack" ? "kept until the WMS acknowledges (wms-ack)" : "kept until the broker acknowledges";
  var ob = s.outbox || {}; $("outbox-messages").textContent = fmtVal(ob.messages); $("outbox-bytes").textContent = fmtBytes(ob.bytes); $("outbox-dropped").textContent = fmtVal(ob.dropped);
  renderOta(s.ota); renderHealth(s.health); renderAlerts(s.alerts);
  if (s.maintenance && s.maintenance.length) renderMaintenance(s.maintenance);
}
function loadMaintenance() { fetch("/api/maintenance").then(function (r) { return r.json(); }).then(renderMaintenance).catch(function () {}); }
function connect() {
  var es = new EventSource("/api/events");
  es.addEventListener("open", function () { var l = $("live"); l.textContent = "live"; l.className = "badge on"; });
  es.addEventListener("error", function () { var l = $("live"); l.textContent = "reconnecting"; l.className = "badge warning"; });
  es.addEventListener("state", function (e) { render(JSON.parse(e.data)); });
  es.addEventListener("values", function (e) { var v = JSON.parse(e.data); record(v.plc, v.ts, v.values || {}); updateValues(v.plc, v.values || {}, v.quality || {}); });
  es.addEventListener("reads", function (e) { JSON.parse(e.data).forEach(function (r) { reads[r.id] = r; }); markStale(); });
  es.addEventListener("status", function () { fetch("/api/state").then(function (r) { return r.json(); }).then(render).catch(function () {}); });
  es.addEventListener("health", function (e) { renderHealth(JSON.parse(e.data)); });
  es.addEventListener("alert", function (e) { var a = JSON.parse(e.data); state.alerts = (state.alerts || []).concat([a]); renderAlerts(state.alerts); });
  es.addEventListener("maintenance", function () { loadMaintenance(); });
}
function act(path, body) {
  var out = $("action-result"); out.textContent = "running…";
  var tok = $("token").value.trim(); if (tok) localStorage.setItem("wmsgw-token", tok);
  fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "Authorization": "Bearer " + tok }, body: JSON.stringify(body) })
    .then(function (r) { return r.json().then(function (j) { out.textContent = r.ok ? "done" : "refused: " + (j.error || r.status); if (r.ok) loadMaintenance(); }); })
    .catch(function (e) { out.textContent = "failed: " + e; });
}
document.querySelectorAll("button[data-job]").forEach(function (b) { b.addEventListener("click", function () { act("/api/maintenance/run", { job: b.getAttribute("data-job") }); }); });
document.querySelectorAll("button[data-backup]").forEach(function (b) { b.addEventListener("click", function () { act("/api/backup", { kind: b.getAttribute("data-backup") }); }); });
$("token").value = localStorage.getItem("wmsgw-token") || "";
setInterval(function () { if (state.gateway) { state.gateway.uptimeS++; $("uptime").textContent = fmtDur(state.gateway.uptimeS); } redrawTrends(); markStale(); }, 1000);
loadMaintenance();
connect();
</script></body></html>
`;

export function dashboardPage(nonce: string): string {
  return PAGE.replaceAll('__NONCE__', nonce);
}
