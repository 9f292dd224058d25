// Triggers: every trigger with its health, enabled or disabled and previewed from its row; and sending an event.

import { api } from "./api.js";
import { h, message, put, short, table, when } from "./dom.js";

const HEAD = [
  "Trigger",
  "Workflow",
  "Type",
  "Status",
  "Last fired",
  "Next run",
  "Lag",
  "Pending",
  "Rows",
  "Last error",
  "",
];

function statusBadge(t) {
  const mark = t.status === "ok" ? "✓" : t.status === "error" ? "✗" : "⊘";
  return h("span", { class: `badge trigger-${t.status}` }, `${mark} ${t.status}`);
}

// A trigger's buttons: enable or disable (as it now is), and the preview of a schedule's next fires.
function controls(t, redraw, notice) {
  const act = async (path, method = "POST") => {
    try {
      return await api(path, { method });
    } catch (error) {
      put(notice, message(error.message, "error"));
      return null;
    }
  };
  const flip = h(
    "button",
    {
      type: "button",
      "data-act": t.enabled ? "disable" : "enable",
      onclick: async () => {
        const changed = await act(`/triggers/${t.id}/${t.enabled ? "disable" : "enable"}`);
        if (changed) redraw(changed);
      },
    },
    t.enabled ? "Disable" : "Enable",
  );
  const shown = h("ol", { class: "preview" });
  const preview = h(
    "button",
    {
      type: "button",
      "data-act": "preview",
      onclick: async () => {
        const fires = await act(`/triggers/${t.id}/preview?count=5`, "GET");
        if (fires)
          put(
            shown,
            fires.items.map((f) => h("li", {}, when(f.at))),
          );
      },
    },
    "Preview",
  );
  return [flip, t.type === "schedule" ? [" ", preview, shown] : null];
}

/** A trigger as a table row with its health and its buttons; `names` maps workflow ids to names (optional). */
export function triggerRow(t, notice, names = null) {
  let row = null;
  const redraw = (changed) => row.replaceWith(triggerRow(changed, notice, names));
  const cells = [
    h("td", { class: "mono", title: t.id }, short(t.id)),
    names
      ? h("td", {}, h("a", { href: `#/workflows/${t.workflow_id}` }, names.get(t.workflow_id) || short(t.workflow_id)))
      : null,
    h("td", {}, t.type),
    h("td", {}, statusBadge(t)),
    h("td", {}, when(t.last_fired_at)),
    h("td", {}, t.next_run_local || when(t.next_run_at)),
    h("td", {}, t.lag_seconds == null ? "" : `${Number(t.lag_seconds).toFixed(1)} s`),
    h("td", {}, String(t.pending ?? "")),
    h("td", {}, `${t.rows.started} started · ${t.rows.filtered} filtered · ${t.rows.error} errors`),
    h("td", { class: "error-text" }, t.last_error || ""),
    h("td", {}, controls(t, redraw, notice)),
  ];
  row = h("tr", { "data-trigger": t.id, "data-enabled": String(t.enabled) }, cells);
  return row;
}

/** A trigger table: of one workflow, or of all (with a workflow column when `names` is given). */
export function triggersTable(items, notice, names = null) {
  const head = names ? HEAD : HEAD.filter((c) => c !== "Workflow");
  return table(
    head,
    items.map((t) => triggerRow(t, notice, names)),
    { id: "triggers" },
  );
}

// Send an event: its type, its payload (JSON) and an optional dedupe key; the answer says how many rows it became.
function sendEventPart() {
  const notice = h("div", { "aria-live": "polite", id: "event-notice" });
  const type = h("input", { type: "text", id: "event-type", required: true, placeholder: "user.engaged", size: 24 });
  const payload = h("textarea", { id: "event-payload", rows: 3, cols: 40, class: "mono" }, "{}");
  const key = h("input", { type: "text", id: "event-key", placeholder: "optional", size: 16 });
  const send = async (ev) => {
    ev.preventDefault();
    let body;
    try {
      body = { type: type.value.trim(), payload: JSON.parse(payload.value || "{}") };
    } catch (error) {
      put(notice, message(`The payload is not JSON: ${error.message}`, "error"));
      return;
    }
    if (key.value.trim()) body.dedupe_key = key.value.trim();
    try {
      const accepted = await api("/events", { method: "POST", body });
      put(notice, message(`Accepted: ${accepted.ids.length} trigger row(s); waiting executions that match take it.`));
    } catch (error) {
      put(notice, message(error.message, "error"));
    }
  };
  const row = (id, label, el) => h("div", { class: "form-row" }, h("label", { for: id }, label), el);
  return h(
    "section",
    {},
    h("h2", {}, "Send an event"),
    h(
      "form",
      { id: "send-event", onsubmit: send },
      row("event-type", "Type", type),
      row("event-payload", "Payload", payload),
      row("event-key", "Dedupe key", key),
      h("p", {}, h("button", { type: "submit" }, "Send")),
    ),
    notice,
  );
}

/** Every trigger with its health and buttons, and the event form. */
export async function triggersView(root) {
  const [triggers, workflows] = await Promise.all([api("/triggers?limit=1000"), api("/workflows?limit=1000")]);
  const names = new Map(workflows.items.map((w) => [w.id, w.name]));
  const notice = h("div", { "aria-live": "polite" });
  put(
    root,
    h("h1", {}, "Triggers"),
    notice,
    triggers.items.length
      ? triggersTable(triggers.items, notice, names)
      : message("No triggers yet: POST one to /workflows/{id}/triggers."),
    sendEventPart(),
  );
}
