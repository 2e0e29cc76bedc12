// The admin endpoint's `/` page: draws /graph (the live component graph)
// as SVG, one box per connection, and refreshes every 2 s. Inline CSS and
// JS only: no external assets, so it works on an isolated host.
#include "tools/admin.hpp"

namespace kam::tools {

const std::string& admin_page() {
  static const std::string page = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kam-serve: live component graph</title>
<style>
body { font: 13px sans-serif; margin: 12px; background: #fafafa; color: #222; }
h1 { font-size: 17px; margin: 0 0 4px 0; }
#status { color: #666; margin-bottom: 8px; }
svg { background: #fff; border: 1px solid #ccc; }
.group rect.frame { fill: #f3f6fb; stroke: #8aa4c8; }
.group.server rect.frame { fill: #f7f3ea; stroke: #c8ad7a; }
.group text.title { font-weight: bold; font-size: 12px; }
.comp rect { fill: #fff; stroke: #444; rx: 4; }
.comp.csa rect { fill: #e4f2e4; }
.comp.handler rect { fill: #e6ecfa; }
.comp text { font-size: 11px; }
.comp text.boxes { font-size: 9px; fill: #666; }
path.link { fill: none; stroke: #555; stroke-width: 1.2; marker-end: url(#arrow); }
path.link.pass { stroke-dasharray: 4 3; stroke: #999; }
path.link.up { stroke: #ccc; }
#conns { columns: 3; font-size: 12px; }
</style>
</head>
<body>
<h1>kam-serve: live component graph</h1>
<div id="status">loading /graph ...</div>
<svg id="graph" width="1000" height="200" xmlns="http://www.w3.org/2000/svg">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6"
 markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"
 fill="#555"/></marker></defs><g id="layer"></g></svg>
<h2 style="font-size:14px">Connections</h2>
<ul id="conns"></ul>
<script>
"use strict";
const NS = "http://www.w3.org/2000/svg";
const W = 160, H = 40, GAP = 12, PAD = 10, COLGAP = 44, TITLE = 20, COLS = 3;
const GROUP_W = 2 * W + 2 * PAD + COLGAP;

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

function draw(g) {
  const layer = document.getElementById("layer");
  while (layer.firstChild) layer.removeChild(layer.firstChild);
  const peers = {};
  for (const c of g.connections) peers[c.id] = c.peer;
  const groups = new Map();
  groups.set("server", []);
  // Server first, then by connection; in each, chassis/CSA/handler first.
  const rank = {chassis: 0, shard: 1, csa: 0, handler: 1};
  const r = c => (c.kind in rank ? rank[c.kind] : 2);
  g.components.sort((x, y) => (x.connection === null ? -1 : x.connection) -
                              (y.connection === null ? -1 : y.connection) ||
                              r(x) - r(y) || x.id - y.id);
  g.connections.sort((x, y) => x.id - y.id);
  for (const c of g.components) {
    const key = c.connection === null ? "server" : String(c.connection);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(c);
  }
  const pos = {};
  let col = 0, x = GAP, y = GAP, rowH = 0;
  for (const [key, members] of groups) {
    const rows = Math.max(1, Math.ceil(members.length / 2));
    const gh = TITLE + PAD + rows * (H + PAD);
    const grp = el("g", {"class": "group" + (key === "server" ? " server" : ""),
                          "data-connection": key});
    grp.appendChild(el("rect", {"class": "frame", x: x, y: y, width: GROUP_W, height: gh}));
    const title = key === "server" ? "server (chassis)"
                                   : "connection " + key + " " + (peers[key] || "");
    grp.appendChild(el("text", {"class": "title", x: x + PAD, y: y + 15}, title));
    members.forEach((c, i) => {
      const cx = x + PAD + (i % 2) * (W + COLGAP), cy = y + TITLE + PAD + Math.floor(i / 2) * (H + PAD);
      pos[c.id] = {x: cx, y: cy};
      const node = el("g", {"class": "comp " + c.kind, "data-id": c.id});
      node.appendChild(el("rect", {x: cx, y: cy, width: W, height: H}));
      node.appendChild(el("text", {x: cx + 6, y: cy + 15}, c.kind + " #" + c.id));
      const boxes = "in: " + c.inboxes.join(",") + " out: " + c.outboxes.join(",");
      const t = el("text", {"class": "boxes", x: cx + 6, y: cy + 31},
                   boxes.length > 34 ? boxes.slice(0, 33) + "\u2026" : boxes);
      t.appendChild(el("title", {}, boxes));
      node.appendChild(t);
      grp.appendChild(node);
    });
    layer.appendChild(grp);
    rowH = Math.max(rowH, gh);
    if (++col === COLS) { col = 0; x = GAP; y += rowH + GAP; rowH = 0; }
    else x += GROUP_W + GAP;
  }
  const byId = {};
  for (const c of g.components) byId[c.id] = c;
  for (const l of g.links) {
    const a = pos[l.from[0]], b = pos[l.to[0]];
    if (!a || !b || l.from[0] === l.to[0]) continue;
    // Right edge to left edge, bowed up; leftwards links leave from the
    // left edge and bow down, so a pair of opposite links stays apart.
    let x1 = a.x + W, y1 = a.y + H / 2 - 5, x2 = b.x, y2 = b.y + H / 2 - 5, bow = -16;
    if (b.x < a.x + W) { x1 = a.x; x2 = b.x + W; y1 += 10; y2 += 10; bow = 16; }
    const d = "M" + x1 + "," + y1 + " Q" + (x1 + x2) / 2 + "," + ((y1 + y2) / 2 + bow) +
              " " + x2 + "," + y2;
    const up = byId[l.to[0]] && byId[l.to[0]].connection === null &&
               byId[l.from[0]] && byId[l.from[0]].connection !== null;
    const path = el("path", {"class": "link" + (l.passthrough ? " pass" : "") + (up ? " up" : ""),
                             d: d});
    path.appendChild(el("title", {}, l.from[0] + "." + l.from[1] + " -> " + l.to[0] + "." + l.to[1]));
    layer.appendChild(path);
  }
  const svg = document.getElementById("graph");
  svg.setAttribute("width", COLS * (GROUP_W + GAP) + GAP);
  svg.setAttribute("height", y + rowH + 2 * GAP);
  const list = document.getElementById("conns");
  while (list.firstChild) list.removeChild(list.firstChild);
  for (const c of g.connections) {
    const li = document.createElement("li");
    li.className = "connection";
    li.textContent = "connection " + c.id + " " + c.peer;
    list.appendChild(li);
  }
  document.getElementById("status").textContent =
    g.connections.length + " connections, " + g.components.length + " components, " +
    g.links.length + " links" + (g.complete ? "" : " (incomplete)") +
    (g.truncated ? " (truncated)" : "") + "; updated " + new Date().toLocaleTimeString();
}

function refresh() {
  fetch("/graph", {cache: "no-store"})
    .then(r => r.json())
    .then(draw)
    .catch(e => { document.getElementById("status").textContent = "error: " + e; });
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)HTML";
  return page;
}

} // namespace kam::tools
