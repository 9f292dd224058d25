// Building the DOM from data: every value goes in as text (textContent or an attribute), never as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = String(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element with attributes (`on*` are listeners) and children (strings become text nodes). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace an element's children. */
export function put(el, ...children) {
  el.replaceChildren();
  return fill(el, {}, children);
}

/** A timestamp as local date and time, or an empty string. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { hour12: false });
}

/** JSON, indented, for a <pre>. */
export function pretty(value) {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

/** A short form of a UUID for tables (the full id stays in the link and its title). */
export function short(id) {
  return String(id).slice(0, 8);
}

// Marks that tell states apart without colour.
const MARKS = {
  idle: "○",
  running: "▶",
  stepCompleted: "✓",
  stepFailed: "!",
  retrying: "↻",
  delayed: "◷",
  paused: "‖",
  completed: "✔",
  failed: "✗",
  cancelled: "⊘",
};

/** A state as a badge: a mark and the name, coloured by a class. */
export function badge(state) {
  return h("span", { class: `badge state-${state}`, "data-state": state }, `${MARKS[state] || "•"} ${state}`);
}

/** A table inside a scrolling wrapper, so narrow screens scroll it instead of the page. */
export function table(head, rows, attrs = {}) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      attrs,
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

/** A message line in a section; `kind` is "error" or "note". */
export function message(text, kind = "note") {
  return h("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text);
}

/** Ask the operator to confirm, in the page's dialog; resolves true on Confirm. */
export function confirmDialog(title, text) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  });
}
