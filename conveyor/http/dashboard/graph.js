// A workflow drawn as a graph: layers by distance from the start, left to right, as SVG.

import { h, s, when } from "./dom.js";

const W = 184, H = 62, GAP_X = 64, GAP_Y = 22, PAD = 16;

/** A node's outgoing edges: [target id, label]. */
export function successors(node) {
  if (node.type === "condition") {
    return [[node.then, "then"], [node.else, "else"]].filter(([target]) => target);
  }
  return node.next ? [[node.next, ""]] : [];
}

/** Each node's layer (the longest path to it from the start, loops ignored) and its place in the layer. */
export function layout(definition) {
  const byId = new Map(definition.nodes.map((n) => [n.id, n]));
  const targets = (id) => successors(byId.get(id) || {}).map(([t]) => t).filter((t) => byId.has(t));
  // Depth-first from the start: an edge to a node still on the stack closes a loop, and is left out of layering.
  const order = [], state = new Map(), back = new Set();
  const visit = (id) => {
    state.set(id, "open");
    for (const t of targets(id)) {
      if (state.get(t) === "open") back.add(`${id}→${t}`);
      else if (!state.has(t)) visit(t);
    }
    state.set(id, "done");
    order.push(id);
  };
  visit(definition.start);
  for (const n of definition.nodes) if (!state.has(n.id)) visit(n.id);
  const layer = new Map(order.map((id) => [id, 0]));
  for (const id of order.reverse()) {
    for (const t of targets(id)) if (!back.has(`${id}→${t}`)) layer.set(t, Math.max(layer.get(t), layer.get(id) + 1));
  }
  const last = Math.max(0, ...layer.values());
  const rows = [];
  const at = new Map();
  for (const id of order) {
    const l = layer.get(id);
    rows[l] = (rows[l] || 0) + 1;
    at.set(id, { layer: l, x: PAD + l * (W + GAP_X), y: PAD + (rows[l] - 1) * (H + GAP_Y) });
  }
  const long = definition.nodes.some((n) => targets(n.id).some((t) => back.has(`${n.id}→${t}`) || layer.get(t) > layer.get(n.id) + 1));
  const loops = long ? GAP_Y + 12 : 0;
  const height = PAD * 2 + Math.max(1, ...rows.filter(Boolean)) * (H + GAP_Y) - GAP_Y + loops;
  return { at, width: PAD * 2 + (last + 1) * (W + GAP_X) - GAP_X, height };
}

function kindOf(node) {
  if (node.type === "action") return `action · ${node.action}`;
  if (node.type === "delay") return `delay · ${node.duration || "until"}`;
  if (node.type === "shared_flow") return `shared flow · ${node.flow}`;
  if (node.type === "webhook") return `webhook · ${node.method || "POST"}`;
  return node.type;
}

// A wake-up today is shown as its time; another day's with its date.
function clock(iso) {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString(undefined, { hour12: false }) : when(iso);
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function edgePath(a, b) {
  const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
  if (b.layer > a.layer + 1) {
    // Skipping layers: down into the gap, along under the row, and up, so it never runs through the boxes between.
    const low = Math.max(a.y, b.y) + H + GAP_Y / 2, q = GAP_X / 2;
    return `M${x1},${y1} C${x1 + q},${y1} ${x1 + q},${low} ${x1 + q + 12},${low} L${x2 - q - 12},${low} C${x2 - q},${low} ${x2 - q},${y2} ${x2},${y2}`;
  }
  if (b.layer > a.layer) {
    const mid = (x1 + x2) / 2;
    return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
  }
  // A step back (a loop): around underneath, so it never crosses the boxes it skips.
  const low = Math.max(a.y, b.y) + H + GAP_Y / 2 + 6;
  return `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${low} ${b.x + W / 2},${low} ${b.x + W / 2},${b.y + H}`;
}

/**
 * The definition as an SVG graph. `marks` (optional): `path` (node ids in the order visited), `current`
 * (the node now), `state`, `wakeAt`, `error`.
 */
export function drawGraph(definition, marks = {}, idPrefix = "g") {
  const { at, width, height } = layout(definition);
  const path = marks.path || [];
  const visited = new Set(path);
  const taken = new Set(path.slice(1).map((id, i) => `${path[i]}→${id}`));
  const arrow = `${idPrefix}-arrow`;
  const svg = s("svg", {
    class: "graph", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `Workflow graph of ${definition.name}: ${definition.nodes.length} nodes`,
  },
  s("defs", {}, s("marker", { id: arrow, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
    s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
  for (const node of definition.nodes) {
    for (const [target, label] of successors(node)) {
      const a = at.get(node.id), b = at.get(target);
      if (!b) continue;
      const cls = taken.has(`${node.id}→${target}`) ? "edge taken" : "edge";
      svg.append(s("path", { d: edgePath(a, b), class: cls, "marker-end": `url(#${arrow})` }));
      // A layer-skipping edge is labelled under its stretch below the row, clear of its sibling leaving the same point.
      if (label) {
        const skips = b.layer > a.layer + 1;
        const [lx, ly] = skips ? [a.x + W + GAP_X / 2 + 14, Math.max(a.y, b.y) + H + GAP_Y / 2 + 12]
          : [a.x + W + 6, a.y + H / 2 + (b.y > a.y ? 14 : -5)]; // on the side the edge turns to
        svg.append(s("text", { x: lx, y: ly, class: "edge-label" }, label));
      }
    }
  }
  for (const node of definition.nodes) {
    const { x, y } = at.get(node.id);
    const current = node.id === marks.current;
    const classes = ["node", `type-${node.type}`];
    let note = "";
    if (visited.has(node.id)) classes.push("visited");
    if (current) {
      classes.push("current", `state-${marks.state}`);
      if (marks.state === "delayed" && marks.wakeAt) note = `◷ wakes ${clock(marks.wakeAt)}`;
      else if (marks.state === "failed" && marks.error) note = `✗ ${marks.error}`;
      else note = `● ${marks.state}`;
    }
    const g = s("g", { class: classes.join(" "), "data-node": node.id, transform: `translate(${x},${y})` },
      s("title", {}, [node.id, kindOf(node), note].filter(Boolean).join("\n")),
      s("rect", { width: W, height: H, rx: 6 }),
      s("text", { x: 10, y: 19, class: "node-id" }, `${visited.has(node.id) && !current ? "✓ " : ""}${clip(node.id, 20)}`),
      s("text", { x: 10, y: 36, class: "node-type" }, clip(kindOf(node), 24)),
      note ? s("text", { x: 10, y: 53, class: "node-note" }, clip(note, 25)) : null);
    svg.append(g);
  }
  return h("div", { class: "graph-wrap scroll" }, svg);
}
