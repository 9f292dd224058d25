// The executions page: counts per state, filters, a page of executions updated live, and bulk actions.
// Each part of the view is built by its own function; they share the page's state (`page`, from openPage).

import { allowed, api, stateMachine, stream } from "./api.js";
import { badge, confirmDialog, h, message, put, short, when } from "./dom.js";
import { filterQuery, filtersForm, matches, query, readFilters, sharedQuery } from "./filters.js";

const PAGE = 50;
const COLUMNS = ["Execution", "Workflow", "State", "Node", "Attempt", "Created", "Duration", "Error"];

/** How long an execution ran (or has been running): "850 ms", "12.4 s", "3 min", "2 h". */
export function duration(e, now = Date.now()) {
  if (!e.started_at) return "";
  const ms = (e.finished_at ? new Date(e.finished_at) : now) - new Date(e.started_at);
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60e3) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600e3) return `${Math.round(ms / 60e3)} min`;
  return `${(ms / 3600e3).toFixed(1)} h`;
}

function errorText(error) {
  if (!error) return "";
  return typeof error === "object" ? error.message || error.code || JSON.stringify(error) : String(error);
}

function capitalised(word) {
  return `${word[0].toUpperCase()}${word.slice(1)}`;
}

/** Render the executions page into `root`; `params` (the hash's query) holds the filters: workflow, state, after, before. */
export async function executionsView(root, params, signal) {
  const page = await openPage(params, signal);
  put(
    root,
    h("h1", {}, "Executions"),
    countsPart(page),
    filtersPart(page),
    bulkPart(page),
    page.notice,
    tablePart(page),
    pagerPart(page),
  );
  follow(page);
  await load(page, true);
}

// What the parts share: the machine, the workflows, the filters and the page of executions shown.
async function openPage(params, signal) {
  const machine = await stateMachine();
  const workflows = (await api("/workflows?limit=1000")).items;
  const filters = readFilters(params, workflows);
  return {
    machine,
    workflows,
    filters,
    signal,
    names: new Map(workflows.map((w) => [w.id, w.name])),
    // Transitions that arrive while a page is being read: applied once it is shown (loading is set meanwhile).
    view: { cursors: [null], rows: new Map(), counts: {}, selected: new Set(), loading: null, next: null },
    notice: h("div", { "aria-live": "polite" }),
    feed: null,
  };
}

// The counts per state; each one is a button that filters by its state.
function countsPart(page) {
  page.counts = h("ul", { class: "counts", "aria-label": "Executions per state" });
  return page.counts;
}

function renderCounts(page) {
  const { machine, view } = page;
  put(
    page.counts,
    machine.states.filter((st) => view.counts[st]).map((st) => countButton(page, st)),
  );
  if (!page.counts.children.length) page.counts.append(h("li", {}, "no executions yet"));
}

function countButton(page, st) {
  const { filters, view } = page;
  const toggle = () => {
    filters.state = filters.state === st ? "" : st;
    page.stateSelect.value = filters.state;
    remember(page);
    load(page, true);
  };
  const attrs = { type: "button", class: "count", "data-state": st, "aria-pressed": String(filters.state === st) };
  return h("li", {}, h("button", { ...attrs, onclick: toggle }, badge(st), h("strong", {}, String(view.counts[st]))));
}

// The filter form; applying it reads the first page again, and follows the feed the filters now name.
function filtersPart(page) {
  return filtersForm(page, () => {
    remember(page);
    page.view.selected.clear();
    load(page, true);
    follow(page);
  });
}

// The filters live in the URL (replaced: no new history entry).
function remember(page) {
  history.replaceState(history.state, "", `#/executions${sharedQuery(page.filters)}`);
}

// The bulk bar: how many are selected, and a button per bulk action the selection's states allow.
function bulkPart(page) {
  page.selectedLabel = h("span", { class: "selected-count" }, "0 selected");
  page.bulkButtons = page.machine.operator_verbs.map((event) =>
    h(
      "button",
      { type: "button", "data-bulk": event, disabled: true, onclick: () => runBulk(page, event) },
      `${capitalised(event)} selected`,
    ),
  );
  const hidden = !allowed("post_executions_bulk_event");
  return h(
    "div",
    { class: "bulk", role: "group", "aria-label": "Bulk actions", hidden },
    page.selectedLabel,
    page.bulkButtons,
  );
}

function updateBulk(page) {
  const { view, machine } = page;
  page.selectedLabel.textContent = `${view.selected.size} selected`;
  const states = [...view.selected].map((id) => view.rows.get(id)?.state).filter(Boolean);
  for (const button of page.bulkButtons) {
    button.disabled = !states.some((st) => machine.allows(st, button.dataset.bulk));
  }
}

// A bulk action: a dry run says what it would do, the operator confirms, then it runs.
async function runBulk(page, event) {
  const body = { ids: [...page.view.selected] };
  try {
    const dry = await api(`/executions/bulk/${event}`, { method: "POST", body: { ...body, dry_run: true } });
    const title = `${capitalised(event)} ${body.ids.length} executions?`;
    if (!(await confirmDialog(title, bulkPreview(event, body.ids.length, dry)))) return;
    const done = await api(`/executions/bulk/${event}`, { method: "POST", body });
    page.view.selected.clear();
    page.selectAll.checked = false;
    await load(page, false);
    const outcome =
      `${event}: ${done.changed.total} changed, ${done.pause_requested.total} pause requested, ` +
      `${done.skipped.total} skipped, ${done.busy} busy.`;
    put(page.notice, message(outcome));
  } catch (error) {
    put(page.notice, message(error.message, "error"));
  }
}

function bulkPreview(event, selected, dry) {
  const skipped = Object.entries(dry.skipped.by_state)
    .map(([st, n]) => `${n} ${st}`)
    .join(", ");
  return (
    `${dry.changed.total} of ${selected} selected will ${event}` +
    (dry.pause_requested.total ? `, ${dry.pause_requested.total} will pause after their running step` : "") +
    (dry.skipped.total ? `; ${dry.skipped.total} skipped (${skipped})` : "") +
    "."
  );
}

// The table: a row per execution, each with its selection box, and a box that selects the whole page.
function tablePart(page) {
  page.tbody = h("tbody");
  page.selectAll = h("input", {
    type: "checkbox",
    "aria-label": "Select every execution on this page",
    onchange: () => selectPage(page),
  });
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, page.selectAll),
    COLUMNS.map((c) => h("th", { scope: "col" }, c)),
  );
  return h(
    "div",
    { class: "scroll" },
    h("table", { id: "executions", class: "executions" }, h("thead", {}, head), page.tbody),
  );
}

function selectPage(page) {
  const { view, selectAll } = page;
  for (const id of view.rows.keys()) {
    if (selectAll.checked) view.selected.add(id);
    else view.selected.delete(id);
  }
  for (const box of page.tbody.querySelectorAll("input[type=checkbox]")) box.checked = selectAll.checked;
  updateBulk(page);
}

function row(page, e) {
  const { view, names } = page;
  const box = h("input", {
    type: "checkbox",
    "aria-label": `Select execution ${e.id}`,
    checked: view.selected.has(e.id),
    onchange: () => {
      if (box.checked) view.selected.add(e.id);
      else view.selected.delete(e.id);
      updateBulk(page);
    },
  });
  return h(
    "tr",
    { "data-id": e.id, "data-state": e.state },
    h("td", {}, box),
    h("td", {}, h("a", { href: `#/executions/${e.id}`, title: e.id, class: "mono" }, short(e.id))),
    h(
      "td",
      {},
      h("a", { href: `#/workflows/${e.workflow_id}` }, names.get(e.workflow_id) || short(e.workflow_id)),
      ` v${e.workflow_version}`,
    ),
    h("td", { class: "state" }, badge(e.state), e.pause_requested ? " (pause requested)" : ""),
    h("td", { class: "node" }, e.current_node || ""),
    h("td", {}, String(e.attempt)),
    h("td", {}, when(e.created_at)),
    h("td", { class: "duration" }, duration(e)),
    h("td", { class: "error-text" }, h("span", { class: "clip", title: errorText(e.error) }, errorText(e.error))),
  );
}

function show(page, items) {
  page.view.rows = new Map(items.map((e) => [e.id, e]));
  put(
    page.tbody,
    items.length
      ? items.map((e) => row(page, e))
      : h("tr", {}, h("td", { colspan: COLUMNS.length + 1 }, "No executions match.")),
  );
  updateBulk(page);
}

function replaceRow(page, e) {
  page.view.rows.set(e.id, e);
  page.tbody.querySelector(`tr[data-id="${CSS.escape(e.id)}"]`)?.replaceWith(row(page, e));
}

// The pager: newer and older pages, a keyset cursor each.
function pagerPart(page) {
  const { view } = page;
  page.pageLabel = h("span");
  const move = (step) => () => {
    step();
    load(page, false);
  };
  page.prev = h("button", { type: "button", onclick: move(() => view.cursors.pop()) }, "← Newer");
  page.next = h("button", { type: "button", onclick: move(() => view.cursors.push(view.next)) }, "Older →");
  return h("nav", { class: "pager", "aria-label": "Pages" }, page.prev, page.pageLabel, page.next);
}

async function loadCounts(page) {
  const { filters } = page;
  const stats = filters.workflow
    ? await api(`/workflows/${filters.workflow}/statistics`)
    : await api("/recovery/statistics");
  page.view.counts = { ...stats.executions_by_state };
  renderCounts(page);
}

async function load(page, fromStart) {
  const { view } = page;
  if (fromStart) view.cursors = [null];
  const cursor = view.cursors[view.cursors.length - 1];
  const started = performance.now();
  const arrived = (view.loading = []);
  try {
    const found = await api(`/executions${filterQuery(page.filters, { limit: String(PAGE), cursor })}`);
    const took = Math.round(performance.now() - started);
    show(page, found.items);
    view.next = found.next_cursor;
    page.next.disabled = !found.next_cursor;
    page.prev.disabled = view.cursors.length === 1;
    page.pageLabel.textContent = `page ${view.cursors.length} · ${took} ms`;
    put(page.notice);
    await loadCounts(page);
  } catch (error) {
    put(page.notice, message(error.message, "error"));
  } finally {
    await catchUp(page, arrived).catch(console.warn);
  }
}

// A transition that came while the page was read may or may not be in it: read those executions again.
async function catchUp(page, arrived) {
  const { view } = page;
  if (view.loading === arrived) view.loading = null;
  const ids = new Set(arrived.filter((t) => view.rows.has(t.execution_id)).map((t) => t.execution_id));
  for (const e of await Promise.all([...ids].map((id) => api(`/executions/${id}`)))) replaceRow(page, e);
  for (const t of arrived) if (t.from === "idle" && !view.rows.has(t.execution_id)) await addNew(page, t);
  updateBulk(page);
}

// The live feed: each transition moves a count and updates its row; a new execution may join the first page.
function follow(page) {
  page.feed?.abort();
  const feed = (page.feed = new AbortController());
  page.signal.addEventListener("abort", () => feed.abort(), { once: true });
  let first = true;
  // One transition at a time, in order: a row being read for a new execution is there for the next one.
  let queue = Promise.resolve();
  stream(`/events/stream${query({ workflow: page.filters.workflow })}`, {
    signal: feed.signal,
    // After a reconnection, events may have been missed: read the page again once.
    onOpen: () => {
      if (!first) load(page, false);
      first = false;
    },
    onEvent: (ev) => {
      if (ev.event === "transition") queue = queue.then(() => onTransition(page, ev.data)).catch(console.warn);
    },
  });
}

async function onTransition(page, t) {
  const { view } = page;
  if (view.loading) {
    view.loading.push(t);
    return;
  }
  view.counts[t.from] = Math.max(0, (view.counts[t.from] || 0) - 1);
  view.counts[t.to] = (view.counts[t.to] || 0) + 1;
  renderCounts(page);
  const known = view.rows.get(t.execution_id);
  if (known) {
    replaceRow(page, {
      ...known,
      state: t.to,
      current_node: t.node ?? known.current_node,
      attempt: t.attempt ?? known.attempt,
    });
    updateBulk(page);
  } else if (t.from === "idle") {
    await addNew(page, t);
  }
}

// A new execution started: it belongs at the top of the first page if it matches the filters.
async function addNew(page, t) {
  const { view, tbody } = page;
  if (view.cursors.length !== 1) return;
  const e = await api(`/executions/${t.execution_id}`);
  if (!matches(page.filters, e) || view.rows.has(e.id)) return;
  view.rows.set(e.id, e);
  if (!tbody.querySelector("tr[data-id]")) put(tbody);
  tbody.prepend(row(page, e));
  if (tbody.children.length > PAGE) tbody.lastElementChild.remove();
}
