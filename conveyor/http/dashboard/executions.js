// The executions page: counts per state, filters, a page of executions updated live, and bulk actions.

import { api, stateMachine, stream } from "./api.js";
import { badge, confirmDialog, h, message, put, short, table, when } from "./dom.js";

const PAGE = 50;
const BULK = ["pause", "resume", "cancel", "retry"];

function query(params) {
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

/** Render the executions page into `root`; `params` (the hash's query) holds the filters: workflow, state, after, before. */
export async function executionsView(root, params, signal) {
  const machine = await stateMachine();
  const workflows = (await api("/workflows?limit=1000")).items;
  const names = new Map(workflows.map((w) => [w.id, w.name]));
  const filters = {
    workflow: params.get("workflow") || "",
    state: params.get("state") || "",
    after: localOrEmpty(params.get("after")),
    before: localOrEmpty(params.get("before")),
  };
  // Transitions that arrive while a page is being read: applied once it is shown (loading is set meanwhile).
  const view = { cursors: [null], rows: new Map(), counts: {}, selected: new Set(), loading: null };

  const counts = h("ul", { class: "counts", "aria-label": "Executions per state" });
  const notice = h("div", { "aria-live": "polite" });
  const tbody = h("tbody");
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select every execution on this page" });
  const pageLabel = h("span");
  const prev = h("button", { type: "button" }, "← Newer");
  const next = h("button", { type: "button" }, "Older →");
  const selectedLabel = h("span", { class: "selected-count" }, "0 selected");
  const bulkButtons = BULK.map((event) =>
    h(
      "button",
      { type: "button", "data-bulk": event, disabled: true },
      `${event[0].toUpperCase()}${event.slice(1)} selected`,
    ),
  );

  const workflowSelect = h(
    "select",
    { name: "workflow", id: "f-workflow" },
    h("option", { value: "" }, "all workflows"),
    workflows.map((w) => h("option", { value: w.id, selected: w.id === filters.workflow }, w.name)),
  );
  const stateSelect = h(
    "select",
    { name: "state", id: "f-state" },
    h("option", { value: "" }, "any state"),
    machine.states.map((st) => h("option", { value: st, selected: st === filters.state }, st)),
  );
  const after = h("input", { type: "datetime-local", id: "f-after", name: "after", value: filters.after });
  const before = h("input", { type: "datetime-local", id: "f-before", name: "before", value: filters.before });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filters" },
    h("span", { class: "field" }, h("label", { for: "f-workflow" }, "Workflow"), workflowSelect),
    h("span", { class: "field" }, h("label", { for: "f-state" }, "State"), stateSelect),
    h("span", { class: "field" }, h("label", { for: "f-after" }, "Created after"), after),
    h("span", { class: "field" }, h("label", { for: "f-before" }, "before"), before),
    h("button", { type: "submit" }, "Apply"),
  );

  put(
    root,
    h("h1", {}, "Executions"),
    counts,
    form,
    h("div", { class: "bulk", role: "group", "aria-label": "Bulk actions" }, selectedLabel, bulkButtons),
    notice,
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { id: "executions", class: "executions" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, selectAll),
            ["Execution", "Workflow", "State", "Node", "Attempt", "Created", "Finished"].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        tbody,
      ),
    ),
    h("nav", { class: "pager", "aria-label": "Pages" }, prev, pageLabel, next),
  );

  function renderCounts() {
    put(
      counts,
      machine.states
        .filter((st) => view.counts[st])
        .map((st) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "count",
                "data-state": st,
                "aria-pressed": String(filters.state === st),
                onclick: () => {
                  filters.state = filters.state === st ? "" : st;
                  stateSelect.value = filters.state;
                  remember();
                  load(true);
                },
              },
              badge(st),
              h("strong", {}, String(view.counts[st])),
            ),
          ),
        ),
    );
    if (!counts.children.length) counts.append(h("li", {}, "no executions yet"));
  }

  function updateBulk() {
    selectedLabel.textContent = `${view.selected.size} selected`;
    const states = [...view.selected].map((id) => view.rows.get(id)?.state).filter(Boolean);
    for (const button of bulkButtons) {
      button.disabled = !states.some((st) => machine.allows(st, button.dataset.bulk));
    }
  }

  function row(e) {
    const box = h("input", {
      type: "checkbox",
      "aria-label": `Select execution ${e.id}`,
      checked: view.selected.has(e.id),
      onchange: () => {
        if (box.checked) view.selected.add(e.id);
        else view.selected.delete(e.id);
        updateBulk();
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
      h("td", {}, when(e.finished_at)),
    );
  }

  function show(items) {
    view.rows = new Map(items.map((e) => [e.id, e]));
    put(tbody, items.length ? items.map(row) : h("tr", {}, h("td", { colspan: 8 }, "No executions match.")));
    updateBulk();
  }

  function filterQuery(extra = {}) {
    return query({
      workflow: filters.workflow,
      state: filters.state,
      created_after: isoOrEmpty(filters.after),
      created_before: isoOrEmpty(filters.before),
      ...extra,
    });
  }

  // The filters live in the URL, so a view can be shared and survives a reload (replaced: no new history entry).
  function remember() {
    const shared = query({
      workflow: filters.workflow,
      state: filters.state,
      after: isoOrEmpty(filters.after),
      before: isoOrEmpty(filters.before),
    });
    history.replaceState(history.state, "", `#/executions${shared}`);
  }

  async function loadCounts() {
    const stats = filters.workflow
      ? await api(`/workflows/${filters.workflow}/statistics`)
      : await api("/recovery/statistics");
    view.counts = { ...stats.executions_by_state };
    renderCounts();
  }

  async function load(fromStart) {
    if (fromStart) view.cursors = [null];
    const cursor = view.cursors[view.cursors.length - 1];
    const started = performance.now();
    const arrived = (view.loading = []);
    try {
      const page = await api(`/executions${filterQuery({ limit: String(PAGE), cursor })}`);
      const took = Math.round(performance.now() - started);
      show(page.items);
      view.next = page.next_cursor;
      next.disabled = !page.next_cursor;
      prev.disabled = view.cursors.length === 1;
      pageLabel.textContent = `page ${view.cursors.length} · ${took} ms`;
      put(notice);
      await loadCounts();
    } catch (error) {
      put(notice, message(error.message, "error"));
    } finally {
      await catchUp(arrived).catch(console.warn);
    }
  }

  // A transition that came while the page was read may or may not be in it: read those executions again.
  async function catchUp(arrived) {
    if (view.loading === arrived) view.loading = null;
    const ids = new Set(arrived.filter((t) => view.rows.has(t.execution_id)).map((t) => t.execution_id));
    for (const e of await Promise.all([...ids].map((id) => api(`/executions/${id}`)))) {
      view.rows.set(e.id, e);
      tbody.querySelector(`tr[data-id="${CSS.escape(e.id)}"]`)?.replaceWith(row(e));
    }
    for (const t of arrived) if (t.from === "idle" && !view.rows.has(t.execution_id)) await addNew(t);
    updateBulk();
  }

  async function bulk(event) {
    const body = { ids: [...view.selected] };
    try {
      const dry = await api(`/executions/bulk/${event}`, { method: "POST", body: { ...body, dry_run: true } });
      const skipped = Object.entries(dry.skipped.by_state)
        .map(([st, n]) => `${n} ${st}`)
        .join(", ");
      const text =
        `${dry.changed.total} of ${body.ids.length} selected will ${event}` +
        (dry.pause_requested.total ? `, ${dry.pause_requested.total} will pause after their running step` : "") +
        (dry.skipped.total ? `; ${dry.skipped.total} skipped (${skipped})` : "") +
        ".";
      if (!(await confirmDialog(`${event[0].toUpperCase()}${event.slice(1)} ${body.ids.length} executions?`, text)))
        return;
      const done = await api(`/executions/bulk/${event}`, { method: "POST", body });
      view.selected.clear();
      selectAll.checked = false;
      await load(false);
      put(
        notice,
        message(
          `${event}: ${done.changed.total} changed, ${done.pause_requested.total} pause requested, ${done.skipped.total} skipped, ${done.busy} busy.`,
        ),
      );
    } catch (error) {
      put(notice, message(error.message, "error"));
    }
  }

  function matches(e) {
    return (
      (!filters.workflow || e.workflow_id === filters.workflow) &&
      (!filters.state || e.state === filters.state) &&
      (!filters.after || new Date(e.created_at) >= new Date(filters.after)) &&
      (!filters.before || new Date(e.created_at) < new Date(filters.before))
    );
  }

  async function onTransition(t) {
    if (view.loading) {
      view.loading.push(t);
      return;
    }
    view.counts[t.from] = Math.max(0, (view.counts[t.from] || 0) - 1);
    view.counts[t.to] = (view.counts[t.to] || 0) + 1;
    renderCounts();
    const known = view.rows.get(t.execution_id);
    if (known) {
      const fresh = {
        ...known,
        state: t.to,
        current_node: t.node ?? known.current_node,
        attempt: t.attempt ?? known.attempt,
      };
      view.rows.set(fresh.id, fresh);
      tbody.querySelector(`tr[data-id="${CSS.escape(fresh.id)}"]`)?.replaceWith(row(fresh));
      updateBulk();
    } else if (t.from === "idle") {
      await addNew(t);
    }
  }

  // A new execution started: it belongs at the top of the first page if it matches the filters.
  async function addNew(t) {
    if (view.cursors.length === 1) {
      const e = await api(`/executions/${t.execution_id}`);
      if (!matches(e) || view.rows.has(e.id)) return;
      view.rows.set(e.id, e);
      if (!tbody.querySelector("tr[data-id]")) put(tbody);
      tbody.prepend(row(e));
      if (tbody.children.length > PAGE) tbody.lastElementChild.remove();
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    Object.assign(filters, {
      workflow: workflowSelect.value,
      state: stateSelect.value,
      after: after.value,
      before: before.value,
    });
    remember();
    view.selected.clear();
    load(true);
    follow();
  });
  selectAll.addEventListener("change", () => {
    for (const id of view.rows.keys())
      if (selectAll.checked) view.selected.add(id);
      else view.selected.delete(id);
    for (const box of tbody.querySelectorAll("input[type=checkbox]")) box.checked = selectAll.checked;
    updateBulk();
  });
  next.addEventListener("click", () => {
    view.cursors.push(view.next);
    load(false);
  });
  prev.addEventListener("click", () => {
    view.cursors.pop();
    load(false);
  });
  for (const button of bulkButtons) button.addEventListener("click", () => bulk(button.dataset.bulk));

  let feed = null;
  function follow() {
    feed?.abort();
    feed = new AbortController();
    signal.addEventListener("abort", () => feed.abort(), { once: true });
    let first = true;
    // One transition at a time, in order: a row being read for a new execution is there for the next one.
    let queue = Promise.resolve();
    stream(`/events/stream${query({ workflow: filters.workflow })}`, {
      signal: feed.signal,
      // After a reconnection, events may have been missed: read the page again once.
      onOpen: () => {
        if (!first) load(false);
        first = false;
      },
      onEvent: (ev) => {
        if (ev.event === "transition") queue = queue.then(() => onTransition(ev.data)).catch(console.warn);
      },
    });
  }

  follow();
  await load(true);
}
