// A workflow drawn as a graph: layers by distance from the start, left to right (or top to bottom on a phone), as SVG.
// The edges are the server's (a version's `graph`, from each node kind's own declaration), never restated here.

import { h, s, when } from "./dom.js";

const W = 184,
  H = 62,
  GAP_X = 86, // room for an edge label such as "on timeout"
  GAP_Y = 22,
  PAD = 16;
// Top to bottom: the gap between layers, and between nodes of one layer side by side.
const GAP_DOWN = 44,
  GAP_SIDE = 28,
  SIDE_ROUTE = GAP_SIDE / 2 + 76; // room for a label beside the route

/**
 * Each node's rank (the longest path to it from the start, loops ignored), the edges that close a loop, and the
 * order to place nodes in: what the start reaches first, a node not (yet) connected after.
 */
function ranks(graph) {
  const ids = new Set(graph.nodes.map((n) => n.id));
  const out = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) if (ids.has(e.to)) out.get(e.from)?.push(e.to);
  const targets = (id) => out.get(id) || [];
  // Depth-first from the start: an edge to a node still on the stack closes a loop, and is left out of ranking.
  const order = [],
    state = new Map(),
    back = new Set();
  const visit = (id) => {
    state.set(id, "open");
    for (const t of targets(id)) {
      if (state.get(t) === "open") back.add(`${id}→${t}`);
      else if (!state.has(t)) visit(t);
    }
    state.set(id, "done");
    order.push(id);
  };
  visit(graph.start);
  const reached = new Set(order);
  for (const n of graph.nodes) if (!state.has(n.id)) visit(n.id);
  const layer = new Map(order.map((id) => [id, 0]));
  for (const id of order.reverse()) {
    for (const t of targets(id)) if (!back.has(`${id}→${t}`)) layer.set(t, Math.max(layer.get(t), layer.get(id) + 1));
  }
  const placing = [...order.filter((x) => reached.has(x)), ...order.filter((x) => !reached.has(x))];
  return { layer, back, targets, placing };
}

/**
 * Each node's layer (its rank) and its place in the layer; layers run left to right, or top to bottom when
 * `down`. `graph`: {start, nodes, edges} as the API gives it.
 */
export function layout(graph, down = false) {
  const { layer, back, targets, placing } = ranks(graph);
  const last = Math.max(0, ...layer.values());
  const rows = [];
  const at = new Map();
  for (const id of placing) {
    const l = layer.get(id);
    rows[l] = (rows[l] || 0) + 1;
    const row = rows[l] - 1;
    at.set(
      id,
      down
        ? { layer: l, x: PAD + row * (W + GAP_SIDE), y: PAD + l * (H + GAP_DOWN) }
        : { layer: l, x: PAD + l * (W + GAP_X), y: PAD + row * (H + GAP_Y) },
    );
  }
  const long = graph.nodes.some((n) =>
    targets(n.id).some((t) => back.has(`${n.id}→${t}`) || layer.get(t) > layer.get(n.id) + 1),
  );
  const across = Math.max(1, ...rows.filter(Boolean));
  if (down) {
    return {
      at,
      width: PAD * 2 + across * (W + GAP_SIDE) - GAP_SIDE + (long ? SIDE_ROUTE : 0),
      height: PAD * 2 + (last + 1) * (H + GAP_DOWN) - GAP_DOWN,
    };
  }
  const loops = long ? GAP_Y + 12 : 0;
  return {
    at,
    width: PAD * 2 + (last + 1) * (W + GAP_X) - GAP_X,
    height: PAD * 2 + across * (H + GAP_Y) - GAP_Y + loops,
  };
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
  return d.toDateString() === new Date().toDateString()
    ? d.toLocaleTimeString(undefined, { hour12: false })
    : when(iso);
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

// An edge's path and where its label goes, left to right.
function edgeAcross(a, b) {
  const x1 = a.x + W,
    y1 = a.y + H / 2,
    x2 = b.x,
    y2 = b.y + H / 2;
  if (b.layer > a.layer + 1) {
    // Skipping layers: down into the gap, along under the row, and up, so it never runs through the boxes between.
    const low = Math.max(a.y, b.y) + H + GAP_Y / 2,
      q = GAP_X / 2;
    return {
      d: `M${x1},${y1} C${x1 + q},${y1} ${x1 + q},${low} ${x1 + q + 12},${low} L${x2 - q - 12},${low} C${x2 - q},${low} ${x2 - q},${y2} ${x2},${y2}`,
      label: [x1 + q + 14, low + 12], // under its stretch below the row, clear of a sibling leaving the same point
    };
  }
  const label = [x1 + 6, y1 + (b.y > a.y ? 14 : -5)]; // on the side the edge turns to
  if (b.layer > a.layer) {
    const mid = (x1 + x2) / 2;
    return { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, label };
  }
  // A step back (a loop): around underneath, so it never crosses the boxes it skips.
  const low = Math.max(a.y, b.y) + H + GAP_Y / 2 + 6;
  return {
    d: `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${low} ${b.x + W / 2},${low} ${b.x + W / 2},${b.y + H}`,
    label,
  };
}

// The same, top to bottom: a skip or a loop goes around the right of the boxes, into the target's right side.
function edgeDown(a, b) {
  if (b.layer === a.layer + 1) {
    const x1 = a.x + W / 2,
      y1 = a.y + H,
      x2 = b.x + W / 2,
      y2 = b.y,
      mid = (y1 + y2) / 2;
    // A straight edge is named just below its start; a bending one halfway, where it is apart from its siblings.
    const label = x2 === x1 ? [x1 + 6, y1 + 14] : [(x1 + x2) / 2 + (x2 < x1 ? -40 : 6), mid - 4];
    return { d: `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`, label };
  }
  const right = Math.max(a.x, b.x) + W + GAP_SIDE / 2,
    y1 = a.y + H / 2,
    y2 = b.y + H / 2,
    q = y2 > y1 ? 12 : -12;
  return {
    d: `M${a.x + W},${y1} C${right},${y1} ${right},${y1} ${right},${y1 + q} L${right},${y2 - q} C${right},${y2} ${right},${y2} ${b.x + W},${y2}`,
    label: [right + 4, y1 + 2 * q],
  };
}

// One node's box: its id, its kind, and a note when it is the current one (its wake-up, its error, its state).
function nodeOf(node, { x, y }, marks, visited) {
  const current = node.id === marks.current;
  const classes = ["node", `type-${node.type}`];
  let note = "";
  if (visited.has(node.id)) classes.push("visited");
  // The editor's marks: the node being edited, and a node the API refused (its first problem as the note).
  if (node.id === marks.selected) classes.push("selected");
  const problem = marks.invalid?.get(node.id);
  if (problem) {
    classes.push("invalid");
    note = `✗ ${problem}`;
  }
  if (current) {
    classes.push("current", `state-${marks.state}`);
    if (marks.state === "delayed" && marks.wakeAt) note = `◷ wakes ${clock(marks.wakeAt)}`;
    else if (marks.state === "failed" && marks.error) note = `✗ ${marks.error}`;
    else note = `● ${marks.state}`;
  }
  return s(
    "g",
    { class: classes.join(" "), "data-node": node.id, transform: `translate(${x},${y})` },
    s("title", {}, [node.id, kindOf(node), note].filter(Boolean).join("\n")),
    s("rect", { width: W, height: H, rx: 6 }),
    s(
      "text",
      { x: 10, y: 19, class: "node-id" },
      `${visited.has(node.id) && !current ? "✓ " : ""}${clip(node.id, 20)}`,
    ),
    s("text", { x: 10, y: 36, class: "node-type" }, clip(kindOf(node), 24)),
    note ? s("text", { x: 10, y: 53, class: "node-note" }, clip(note, 22)) : null,
  );
}

function svgOf(definition, graph, marks, id, down) {
  const { at, width, height } = layout(graph, down);
  const path = marks.path || [];
  const visited = new Set(path);
  const taken = new Set(path.slice(1).map((node, i) => `${path[i]}→${node}`));
  const arrow = `${id}-arrow`;
  const svg = s(
    "svg",
    {
      class: "graph",
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-label": `Workflow graph of ${definition.name}: ${definition.nodes.length} nodes`,
    },
    s(
      "defs",
      {},
      s(
        "marker",
        {
          id: arrow,
          viewBox: "0 0 10 10",
          refX: 10,
          refY: 5,
          markerWidth: 9,
          markerHeight: 9,
          markerUnits: "userSpaceOnUse",
          orient: "auto-start-reverse",
        },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }),
      ),
    ),
  );
  for (const { from, to, kind } of graph.edges) {
    const a = at.get(from),
      b = at.get(to);
    if (!a || !b) continue;
    const edge = down ? edgeDown(a, b) : edgeAcross(a, b);
    const cls = `edge kind-${kind}${taken.has(`${from}→${to}`) ? " taken" : ""}`;
    const attrs = { d: edge.d, class: cls, "marker-end": `url(#${arrow})` };
    svg.append(s("path", { ...attrs, "data-from": from, "data-to": to, "data-kind": kind }));
    // `next` is the plain way on; every other kind is named on its edge.
    const label = kind === "next" ? "" : kind.replaceAll("_", " ");
    if (label) svg.append(s("text", { x: edge.label[0], y: edge.label[1], class: `edge-label kind-${kind}` }, label));
  }
  for (const node of definition.nodes) if (at.has(node.id)) svg.append(nodeOf(node, at.get(node.id), marks, visited));
  return svg;
}

/**
 * A version's definition as an SVG graph of its `graph` (from the API), drawn both ways: left to right, and top to
 * bottom for a phone (the stylesheet shows the one that fits). `marks` (optional): `path` (node ids in the order
 * visited), `current` (the node now), `state`, `wakeAt`, `error`.
 */
export function drawGraph({ definition, graph }, marks = {}, idPrefix = "g") {
  if (!graph)
    return h("p", { class: "error" }, "This version no longer loads with today's node kinds: see its definition.");
  return h(
    "div",
    { class: "graph-wrap" },
    h("div", { class: "scroll across" }, svgOf(definition, graph, marks, `${idPrefix}-across`, false)),
    h("div", { class: "scroll down" }, svgOf(definition, graph, marks, `${idPrefix}-down`, true)),
  );
}
