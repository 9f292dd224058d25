// The executions page's filters: the form, what they mean to the API, and how they live in the URL.

import { h } from "./dom.js";

// Time presets: a window ending now, kept in the URL by name so that a shared link keeps meaning "recent".
const PRESETS = [
  ["", "any time"],
  ["15m", "last 15 min", 15 * 60e3],
  ["1h", "last hour", 3600e3],
  ["1d", "last day", 86400e3],
  ["7d", "last 7 days", 7 * 86400e3],
];
// The search fields: the query parameter each is sent as, and what it finds.
const SEARCHES = [
  ["id", "Id starts with", "3f2a9c"],
  ["input", "Input", "email=ada@example.com"],
  ["error", "Error contains", "timeout"],
];

/** A query string of the parameters that have a value ("" when none has). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}

function isoOrEmpty(local) {
  return local ? new Date(local).toISOString() : "";
}

// An instant from the URL (ISO, so a shared link means the same time in any zone) as a datetime-local value.
function localOrEmpty(iso) {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The filters a URL's query names (`params`); a workflow named by its name is taken as that workflow. */
export function readFilters(params, workflows) {
  const named = params.get("workflow") || "";
  return {
    workflow: workflows.find((w) => w.id === named || w.name === named)?.id || named,
    state: params.get("state") || "",
    after: localOrEmpty(params.get("after")),
    before: localOrEmpty(params.get("before")),
    since: params.get("since") || "",
    ...Object.fromEntries(SEARCHES.map(([key]) => [key, params.get(key) || ""])),
  };
}

/** The filters as a URL's query, so a view can be shared and survives a reload. */
export function sharedQuery(filters) {
  return query({
    workflow: filters.workflow,
    state: filters.state,
    since: filters.since,
    after: isoOrEmpty(filters.after),
    before: isoOrEmpty(filters.before),
    ...Object.fromEntries(SEARCHES.map(([key]) => [key, filters[key]])),
  });
}

/**
 * The filter form: workflow, state, a creation window (a preset or times) and the searches; `apply` runs once the
 * page's `filters` hold what was chosen. The state box is `page.stateSelect`, which the counts set too.
 */
export function filtersForm(page, apply) {
  const { filters, workflows, machine } = page;
  const workflowSelect = h(
    "select",
    { name: "workflow", id: "f-workflow" },
    h("option", { value: "" }, "all workflows"),
    workflows.map((w) => h("option", { value: w.id, selected: w.id === filters.workflow }, w.name)),
  );
  page.stateSelect = h(
    "select",
    { name: "state", id: "f-state" },
    h("option", { value: "" }, "any state"),
    machine.states.map((st) => h("option", { value: st, selected: st === filters.state }, st)),
  );
  const after = h("input", { type: "datetime-local", id: "f-after", name: "after", value: filters.after });
  const before = h("input", { type: "datetime-local", id: "f-before", name: "before", value: filters.before });
  const since = h(
    "select",
    { name: "since", id: "f-since" },
    PRESETS.map(([key, label]) => h("option", { value: key, selected: key === filters.since }, label)),
  );
  const searches = SEARCHES.map(([key, , example]) =>
    h("input", { type: "search", id: `f-${key}`, name: key, value: filters[key], placeholder: example, size: 18 }),
  );
  const field = (id, label, input) => h("span", { class: "field" }, h("label", { for: id }, label), input);
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filters" },
    field("f-workflow", "Workflow", workflowSelect),
    field("f-state", "State", page.stateSelect),
    field("f-since", "Created", since),
    field("f-after", "after", after),
    field("f-before", "before", before),
    SEARCHES.map(([key, label], i) => field(`f-${key}`, label, searches[i])),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const chosen = {
      workflow: workflowSelect.value,
      state: page.stateSelect.value,
      after: after.value,
      before: before.value,
      since: since.value,
      ...Object.fromEntries(SEARCHES.map(([key], i) => [key, searches[i].value.trim()])),
    };
    Object.assign(filters, chosen);
    apply();
  });
  return form;
}

// The start of the window: the later of the preset's (from now) and the chosen time.
function windowStart(filters) {
  const preset = PRESETS.find(([key]) => key === filters.since && key);
  const times = [preset && Date.now() - preset[2], filters.after && new Date(filters.after).getTime()];
  const start = Math.max(...times.filter(Boolean));
  return Number.isFinite(start) ? new Date(start).toISOString() : "";
}

/** The API query of these filters (and `extra` parameters), for GET /executions. */
export function filterQuery(filters, extra = {}) {
  return query({
    workflow: filters.workflow,
    state: filters.state,
    created_after: windowStart(filters),
    created_before: isoOrEmpty(filters.before),
    ...Object.fromEntries(SEARCHES.map(([key]) => [key, filters[key]])),
    ...extra,
  });
}

/** Whether an execution read from the feed belongs on the page these filters show. */
export function matches(filters, e) {
  const start = windowStart(filters);
  return (
    (!filters.workflow || e.workflow_id === filters.workflow) &&
    (!filters.state || e.state === filters.state) &&
    (!start || new Date(e.created_at) >= new Date(start)) &&
    (!filters.before || new Date(e.created_at) < new Date(filters.before)) &&
    (!filters.id || e.id.replaceAll("-", "").startsWith(filters.id.replaceAll("-", "").toLowerCase())) &&
    // An input or error search is the server's to answer: a new execution joins on the next read.
    !filters.input &&
    !filters.error
  );
}
