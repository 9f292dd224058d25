// Audit: the namespace's trail of changes, newest first, a page at a time (GET /audit; admins only).

import { api } from "./api.js";
import { h, message, put, short, table, when } from "./dom.js";

/** The trail, with a button that reads the next page under it. */
export async function auditView(root) {
  const head = ["When", "Who", "What", "Target", "Execution", "Status", "From", "Request"];
  const trail = table(head, [], { id: "audit" });
  const rows = trail.querySelector("tbody");
  const more = h("button", { type: "button", hidden: true }, "Older entries");
  let cursor = null;
  async function load() {
    const page = await api(`/audit?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    rows.append(...page.items.map(auditRow));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", () => load());
  await load();
  const empty = rows.children.length === 0;
  put(root, h("h1", {}, "Audit"), empty ? message("Nothing has been changed in this namespace yet.") : trail, more);
}

function auditRow(entry) {
  return h(
    "tr",
    { "data-id": String(entry.id) },
    h("td", {}, h("time", { datetime: entry.at }, when(entry.at))),
    h("td", {}, h("code", {}, entry.actor)),
    h("td", {}, entry.action),
    h("td", {}, entry.target ? h("code", {}, JSON.stringify(entry.target)) : ""),
    h(
      "td",
      {},
      entry.execution_id ? h("a", { href: `#/executions/${entry.execution_id}` }, short(entry.execution_id)) : "",
    ),
    h("td", {}, entry.status ?? ""),
    h("td", {}, entry.remote ?? ""),
    h("td", {}, h("code", {}, entry.request_id ?? "")),
  );
}
