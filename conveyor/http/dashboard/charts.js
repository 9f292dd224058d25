// Charts of the API's per-minute figures (GET /statistics/minutes), drawn as inline SVG: no library, no network.

import { api } from "./api.js";
import { h, put, s } from "./dom.js";

const WIDTH = 640,
  HEIGHT = 150,
  LEFT = 58,
  BOTTOM = 20,
  TOP = 8;
const WINDOWS = [
  [15, "15 min"],
  [60, "hour"],
  [360, "6 hours"],
  [1440, "day"],
];
const RUNS = [
  ["started", "started"],
  ["completed", "completed"],
  ["failed", "failed"],
];
const LATENCY = [
  ["step_p50_ms", "median"],
  ["step_p95_ms", "95th percentile"],
];

function clock(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
}

function rounded(value) {
  return value >= 100 ? String(Math.round(value)) : String(Number(value.toFixed(1)));
}

/**
 * The minutes as a chart: side-by-side bars per minute for counts (`bars`), or a line with a dot per value for
 * measures (a missing value breaks the line); the scale's top and the window's ends are written on the axes, and
 * `unit` follows the top value. Each series is one group (`data-series`) carrying its total (`data-total`).
 */
export function chart(items, series, { title, unit = "", bars = false }) {
  const values = series.flatMap(([key]) => items.map((m) => m[key]).filter((v) => v != null));
  const top = Math.max(1, ...values);
  const x = (i) => LEFT + (i * (WIDTH - LEFT - 4)) / Math.max(1, items.length - 1);
  const y = (v) => TOP + (HEIGHT - TOP - BOTTOM) * (1 - v / top);
  const svg = s(
    "svg",
    { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": title },
    s("title", {}, title),
    s("line", { x1: LEFT, y1: y(0), x2: WIDTH, y2: y(0), class: "axis" }),
    s("line", { x1: LEFT, y1: y(top), x2: WIDTH, y2: y(top), class: "grid" }),
    s("text", { x: LEFT - 4, y: y(top) + 4, class: "tick", "text-anchor": "end" }, `${rounded(top)}${unit}`),
    s("text", { x: LEFT - 4, y: y(0), class: "tick", "text-anchor": "end" }, "0"),
    items.length
      ? [
          s("text", { x: LEFT, y: HEIGHT - 4, class: "tick" }, clock(items[0].minute)),
          s("text", { x: WIDTH, y: HEIGHT - 4, class: "tick", "text-anchor": "end" }, clock(items.at(-1).minute)),
        ]
      : null,
  );
  const slot = (WIDTH - LEFT - 4) / Math.max(1, items.length);
  const bar = Math.max(1, (slot * 0.8) / series.length);
  series.forEach(([key], k) => {
    const total = items.reduce((sum, m) => sum + (m[key] || 0), 0);
    const group = s("g", { class: `series series-${key}`, "data-series": key, "data-total": total });
    let d = "",
      pen = "M";
    items.forEach((m, i) => {
      const v = m[key];
      if (v == null) {
        pen = "M";
        return;
      }
      if (bars) {
        if (v > 0) {
          const left = LEFT + i * slot + slot * 0.1 + k * bar;
          group.append(s("rect", { x: left, y: y(v), width: bar, height: y(0) - y(v) }, s("title", {}, `${key} ${v}`)));
        }
        return;
      }
      d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
      group.append(s("circle", { cx: x(i), cy: y(v), r: 2.5 }, s("title", {}, `${key} ${rounded(v)}${unit}`)));
    });
    if (!bars) group.prepend(s("path", { d: d.trim() }));
    svg.append(group);
  });
  const legend = h(
    "ul",
    { class: "legend" },
    series.map(([key, label]) => h("li", { class: `series-${key}` }, label)),
  );
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), svg, legend);
}

/** A section of charts for one workflow (or all, without `workflow`), with its window chosen from a few. */
export function trendsPart(workflow = "") {
  const box = h("div", { class: "charts", id: "charts" });
  const choice = h(
    "select",
    { "aria-label": "Chart window", id: "chart-window" },
    WINDOWS.map(([minutes, label]) => h("option", { value: String(minutes), selected: minutes === 60 }, label)),
  );
  const draw = async () => {
    const q = new URLSearchParams({ minutes: choice.value, ...(workflow ? { workflow } : {}) });
    const found = await api(`/statistics/minutes?${q}`);
    const note = found.capped ? ` (the newest ${found.considered} executions)` : "";
    put(
      box,
      chart(found.items, RUNS, { title: `Executions per minute${note}`, bars: true }),
      chart(found.items, LATENCY, { title: "Step duration", unit: " ms" }),
    );
    box.dataset.ready = choice.value;
  };
  choice.addEventListener("change", draw);
  draw();
  return h(
    "section",
    {},
    h("h2", {}, "Trends"),
    h("p", { class: "filters" }, h("label", { for: "chart-window" }, "Last "), choice),
    box,
  );
}

/** An execution's steps on a time line: a bar per attempt from its start to its end (or now), with its duration. */
export function stepTimeline(steps, now = Date.now()) {
  const timed = steps.filter((st) => st.started_at);
  if (!timed.length) return h("p", { class: "note" }, "No steps yet.");
  const start = Math.min(...timed.map((st) => new Date(st.started_at)));
  const end = Math.max(...timed.map((st) => (st.finished_at ? new Date(st.finished_at) : now)));
  const span = Math.max(1, end - start);
  const ROW = 22,
    LABEL = 150;
  const svg = s("svg", {
    class: "chart timeline-chart",
    viewBox: `0 0 ${WIDTH} ${timed.length * ROW + 6}`,
    role: "img",
    "aria-label": "Step timeline",
  });
  timed.forEach((st, i) => {
    const from = new Date(st.started_at) - start;
    const to = (st.finished_at ? new Date(st.finished_at) : now) - start;
    const x = LABEL + (from / span) * (WIDTH - LABEL - 60);
    const w = Math.max(2, ((to - from) / span) * (WIDTH - LABEL - 60));
    const ms = to - from;
    const took = ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
    svg.append(
      s(
        "g",
        { class: `step status-${st.status}`, "data-node": st.node, transform: `translate(0,${i * ROW + 3})` },
        s("text", { x: 0, y: 14, class: "tick" }, `${st.node} #${st.visit}.${st.attempt}`.slice(0, 24)),
        s("rect", { x, y: 2, width: w, height: 16, rx: 3 }),
        s("text", { x: x + w + 4, y: 14, class: "tick" }, st.finished_at ? took : `${took}…`),
      ),
    );
  });
  return h("div", { class: "step-timeline" }, svg);
}
