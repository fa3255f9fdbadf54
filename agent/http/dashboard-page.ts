// The dashboard: one self-contained page, plain JS, no build. Light theme with large type for a
// tablet on a warehouse floor. Data arrives by /api/state then /api/events (server-sent events);
// everything is rendered with textContent, never as HTML, since values come from PLCs and the network.
const PAGE = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wms-gateway</title>
<link rel="icon" href="data:,">
<style nonce="__NONCE__">
:root{--ok:#1b7f3b;--warn:#a15c00;--bad:#b3261e;--mute:#5f6368;--line:#dadce0;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;font:17px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:#202124}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.8rem 1.2rem;background:#fff;border-bottom:1px solid var(--line)}
header h1{font-size:1.3rem;margin:0}.mute{color:var(--mute)}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem;padding:1rem}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:.8rem 1rem;min-width:0}
section h2{font-size:1.05rem;margin:.1rem 0 .6rem;text-transform:uppercase;letter-spacing:.04em;color:var(--mute)}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:99px;font-weight:600;color:#fff;background:var(--mute)}
.ok,.connected,.online{background:var(--ok)}.degraded,.warning,.starting{background:var(--warn)}.failing,.critical,.disconnected,.offline{background:var(--bad)}
table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:.3rem .2rem;border-bottom:1px solid var(--line);vertical-align:top}
td.v{font-variant-numeric:tabular-nums;font-weight:600;text-align:right}td.bad{color:var(--bad)}
.plc{margin-bottom:1rem}.plc h3{display:flex;justify-content:space-between;align-items:center;margin:.2rem 0;font-size:1.1rem}
ul{margin:0;padding-left:1.1rem}li{margin:.2rem 0}.small{font-size:.85rem}
button{font:inherit;padding:.45rem .9rem;border-radius:8px;border:1px solid var(--line);background:#fff;cursor:pointer}
input{font:inherit;padding:.4rem;border:1px solid var(--line);border-radius:8px;width:100%}
.row{display:flex;gap:.5rem;flex-wrap:wrap;margin:.4rem 0}#live.on{background:var(--ok)}section h2.sp{margin-top:1rem}
</style></head>
<body>
<header><h1>wms-gateway <span id="gw" class="mute"></span></h1>
<span>health <span id="health" class="badge">…</span></span>
<span>version <b id="version">–</b></span><span>uptime <b id="uptime">–</b></span>
<span class="badge" id="live">offline</span></header>
<main>
<section id="plcs-card"><h2>PLC links and live values</h2><div id="plcs"><p class="mute">No PLC configured.</p></div></section>
<section><h2>WMS link</h2><table><tbody>
<tr><th>state</th><td id="wms-state"></td></tr><tr><th>broker</th><td id="wms-url" class="small"></td></tr>
<tr><th>since</th><td id="wms-since" class="small"></td></tr><tr><th>reconnects</th><td id="wms-reconnects"></td></tr></tbody></table>
<h2 class="sp">Outbox</h2><table><tbody>
<tr><th>messages waiting</th><td id="outbox-messages" class="v"></td></tr><tr><th>bytes</th><td id="outbox-bytes" class="v"></td></tr>
<tr><th>dropped</th><td id="outbox-dropped" class="v"></td></tr></tbody></table></section>
<section><h2>Health</h2><table><tbody id="checks"></tbody></table><h2 class="sp">Alerts</h2><ul id="alerts" class="small"><li class="mute">none</li></ul></section>
<section><h2>OTA</h2><table><tbody id="ota"></tbody></table><h2 class="sp">Update history</h2><ul id="ota-history" class="small"></ul></section>
<section><h2>Maintenance</h2><ul id="maintenance" class="small"><li class="mute">no run yet</li></ul>
<div class="row"><input id="token" type="password" placeholder="token ($DATA_DIR/http-token) for actions" autocomplete="off"></div>
<div class="row"><button data-job="integrityCheck">Integrity check</button><button data-job="logRotation">Rotate logs</button><button data-backup="full">Full backup</button><button data-backup="diff">Differential backup</button></div>
<div id="action-result" class="small mute"></div></section>
</main>
<script nonce="__NONCE__">
"use strict";
var state = { plcs: [] };
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
    $("plcs").appendChild(box);
  }
  var b = box.querySelector("h3 .badge"); b.textContent = p.state; b.className = "badge " + p.state;
  box.querySelector(".err").textContent = [p.error, p.lastReadTs ? "last read " + new Date(p.lastReadTs).toLocaleTimeString() : ""].filter(Boolean).join(" · ");
  updateValues(p.id, p.values || {}, p.quality || {});
}
function updateValues(plc, values, quality) {
  var box = document.querySelector('.plc[data-plc="' + CSS.escape(plc) + '"]');
  if (!box) { renderPlc({ id: plc, state: "connected", values: values, quality: quality }); return; }
  var tbody = box.querySelector("tbody");
  Object.keys(values).forEach(function (tag) {
    var td = tbody.querySelector('td[data-tag="' + CSS.escape(tag) + '"]');
    if (!td) { var tr = el("tr"); tr.appendChild(el("th", "", tag)); td = el("td", "v"); td.setAttribute("data-tag", tag); tr.appendChild(td); tbody.appendChild(tr); }
    td.textContent = fmtVal(values[tag]);
    td.className = "v" + (quality && quality[tag] === "bad" ? " bad" : "");
  });
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
  var tb = $("ota"); clear(tb); var hist = $("ota-history"); clear(hist);
  if (!o || typeof o !== "object") { kv(tb, "state", "not available"); return; }
  kv(tb, "active", o.active); kv(tb, "phase", o.phase + (o.phase === "Downloading" && o.progress ? " " + Math.round(o.progress * 100) + "%" : ""));
  if (o.error) kv(tb, "error", o.error.reason + ": " + o.error.message);
  if (o.update) kv(tb, "update", o.update.id);
  var slots = o.slots || {};
  ["factory", "a", "b"].forEach(function (s) { var v = slots[s]; kv(tb, "slot " + s, v ? v.version + (s === o.active ? " active" : "") : "empty"); });
  (o.history || []).slice(-10).reverse().forEach(function (h) { hist.appendChild(el("li", "", [new Date(h.ts).toLocaleString(), h.from + " → " + h.to, h.reason, h.message].filter(Boolean).join(" · "))); });
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
  var w = s.wms || {}; var ws = $("wms-state"); clear(ws); ws.appendChild(badge(w.connected ? "connected" : "disconnected"));
  $("wms-url").textContent = w.url || "–"; $("wms-since").textContent = w.since || "–"; $("wms-reconnects").textContent = fmtVal(w.reconnects);
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
  es.addEventListener("values", function (e) { var v = JSON.parse(e.data); updateValues(v.plc, v.values || {}, v.quality || {}); });
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
setInterval(function () { if (state.gateway) { state.gateway.uptimeS++; $("uptime").textContent = fmtDur(state.gateway.uptimeS); } }, 1000);
loadMaintenance();
connect();
</script></body></html>
`;

export function dashboardPage(nonce: string): string {
  return PAGE.replaceAll('__NONCE__', nonce);
}
