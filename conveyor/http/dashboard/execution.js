// One execution: its graph with the path taken, the live history, steps, emails, webhook calls, and the operator's buttons.
// Each part of the view is built by its own function; they share the page's state (`page`, from openPage).

import { allowed, api, stateMachine, stream } from "./api.js";
import { badge, h, message, pretty, put, short, table, when } from "./dom.js";
import { stepTimeline } from "./charts.js";
import { drawGraph } from "./graph.js";

function jsonCell(value) {
  if (value === null || value === undefined) return "";
  return h("details", {}, h("summary", {}, "show"), h("pre", {}, pretty(value)));
}

/** Render one execution into `root`, live until the page is left. */
export async function executionView(root, [id], signal) {
  const page = await openPage(id, signal);
  put(
    root,
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: "#/executions" }, "Executions"),
      " / ",
      h("a", { href: `#/workflows/${page.workflow.id}` }, page.workflow.name),
      ` v${page.execution.workflow_version}`,
    ),
    h("h1", {}, "Execution ", h("span", { class: "mono", title: id }, short(id))),
    page.summary,
    actionsPart(page),
    page.notice,
    h("section", {}, h("h2", {}, "Graph"), page.graph),
    h(
      "div",
      { class: "columns" },
      h("section", {}, h("h2", {}, "History"), page.timeline),
      h("section", {}, h("h2", {}, "Steps"), page.steps),
    ),
    h("section", {}, h("h2", {}, "Step timeline"), page.stepTimes),
    h("section", {}, h("h2", {}, "Emails"), page.emails),
    h("section", {}, h("h2", {}, "Webhook calls"), page.webhooks),
  );
  for (const entry of (await api(`/executions/${id}/history`)).items) addHistory(page, entry);
  render(page);
  follow(page);
  await refreshDetails(page);
}

// What the parts share: the execution, its workflow version, the history read so far, and the page's sections.
async function openPage(id, signal) {
  const machine = await stateMachine();
  // From the machine, not retyped: the events that close a step (the node they name has run), and those that park
  // an execution in `delayed` on its own (a delay node's sleep; a resume is the operator's).
  const operator = new Set(machine.operator_events);
  const byMachine = machine.transitions.filter((t) => !operator.has(t.event));
  const execution = await api(`/executions/${id}`);
  const workflow = await api(`/workflows/${execution.workflow_id}`);
  const version = await api(`/workflows/${execution.workflow_id}/versions/${execution.workflow_version}`);
  return {
    id,
    signal,
    machine,
    execution,
    workflow,
    version,
    definition: version.definition,
    stepEnds: new Set(byMachine.filter((t) => t.from === "running" && t.to !== "running").map((t) => t.event)),
    sleeps: new Set(byMachine.filter((t) => t.to === "delayed").map((t) => t.event)),
    history: [],
    seen: new Set(),
    summary: h("dl", { class: "summary" }),
    notice: h("div", { "aria-live": "polite" }),
    graph: h("div", { id: "graph" }),
    timeline: h("ol", { class: "timeline", id: "timeline" }),
    steps: h("div", { id: "steps" }),
    stepTimes: h("div", { id: "step-timeline" }),
    emails: h("div", { id: "emails" }),
    webhooks: h("div", { id: "webhooks" }),
    feed: null,
    pending: null,
    reads: 0,
  };
}

// The operator's buttons, one per event the machine lets an operator name, and "retry from node" with its choice
// of node; each enabled as the machine allows.
function actionsPart(page) {
  page.buttons = page.machine.operator_verbs.map((event) =>
    h(
      "button",
      {
        type: "button",
        "data-action": event,
        "data-event": event,
        hidden: !allowed(`post_executions_id_${event}`),
        onclick: () => act(page, event),
      },
      event[0].toUpperCase() + event.slice(1),
    ),
  );
  page.fromNode = h(
    "select",
    { id: "from-node", "aria-label": "Node to run again from" },
    page.definition.nodes.map((n) => h("option", { value: n.id }, n.id)),
  );
  page.rerun = h(
    "button",
    {
      type: "button",
      "data-action": "rerun",
      "data-event": "rerun",
      hidden: !allowed("post_executions_id_retry"),
      onclick: () => act(page, "retry", { from_node: page.fromNode.value }),
    },
    "Retry from node",
  );
  return h(
    "div",
    { class: "actions", role: "group", "aria-label": "Operate" },
    page.buttons,
    h("span", { class: "rerun" }, h("label", { for: "from-node" }, "from "), page.fromNode, page.rerun),
  );
}

async function act(page, action, body) {
  try {
    page.execution = await api(`/executions/${page.id}/${action}`, { method: "POST", body });
    render(page);
    const { state, pause_requested: pauseRequested } = page.execution;
    put(page.notice, message(`${action}: now ${state}${pauseRequested ? " (pause requested)" : ""}`));
    follow(page); // an ended execution's stream has closed; a restarted one is followed again
  } catch (error) {
    put(page.notice, message(error.message, "error"));
  }
}

function render(page) {
  const { execution, machine } = page;
  renderSummary(page.summary, execution);
  for (const button of [...page.buttons, page.rerun]) {
    button.disabled = !machine.allows(execution.state, button.dataset.event);
  }
  page.fromNode.disabled = page.rerun.disabled;
  renderGraph(page);
}

function renderSummary(summary, execution) {
  const item = (term, value, attrs = {}) => [h("dt", {}, term), h("dd", attrs, value)];
  put(
    summary,
    item("State", [badge(execution.state), execution.pause_requested ? " pause requested" : ""], { id: "state" }),
    item("Node", execution.current_node || "—"),
    execution.waiting ? item("Waiting", waitingText(execution.waiting), { id: "waiting" }) : null,
    item("Attempt", String(execution.attempt)),
    item("Created", when(execution.created_at)),
    execution.wake_at ? item("Wakes", when(execution.wake_at)) : null,
    execution.finished_at ? item("Finished", when(execution.finished_at)) : null,
    execution.error ? item("Error", pretty(execution.error), { class: "error-text" }) : null,
    item("Input", jsonCell(execution.input)),
    execution.output ? item("Output", jsonCell(execution.output)) : null,
  );
}

// The server's words for the wait, its times in the reader's own zone.
function waitingText(waiting) {
  const local = waiting.until ? ` (${when(waiting.until)} here)` : "";
  return h("span", { "data-kind": waiting.kind }, waiting.text, h("span", { class: "note" }, local));
}

// The graph, with the path taken so far and where the execution is now.
function renderGraph(page) {
  const { execution, history } = page;
  const error = execution.error && (execution.error.message || JSON.stringify(execution.error));
  // A delayed execution already points at the node after its delay; the delay node (its last sleep) is the one that waits.
  const slept = history.findLast((entry) => page.sleeps.has(entry.event));
  const current = execution.state === "delayed" && slept ? slept.node : execution.current_node;
  const where = { path: path(page), current, state: execution.state, wakeAt: execution.wake_at, error };
  put(page.graph, drawGraph(page.version, where, "exec"));
}

function path(page) {
  const nodes = [];
  // A node is on the path once its step has run; operator rows (pause at the next node) do not count.
  for (const entry of page.history) {
    if (page.stepEnds.has(entry.event) && entry.node && nodes[nodes.length - 1] !== entry.node) nodes.push(entry.node);
  }
  return nodes;
}

// The timeline: one item per history row, each shown once however often it is read.
function addHistory(page, entry) {
  // The same row read from /history and from the stream: history rows have no id, so key on their content.
  const key = `${entry.at}|${entry.event}|${entry.from}|${entry.to}|${entry.node}`;
  if (page.seen.has(key)) return false;
  page.seen.add(key);
  page.history.push(entry);
  // In words (and who, for an operator's event); the machine's event name stays beside them.
  const by = entry.detail?.actor ? ` by ${entry.detail.actor}` : "";
  const what = `${entry.words || entry.event}${entry.attempt > 1 ? ` (attempt ${entry.attempt})` : ""}${by}`;
  page.timeline.append(
    h(
      "li",
      { "data-event": entry.event },
      h("time", { datetime: entry.at }, when(entry.at)),
      " ",
      badge(entry.to),
      " ",
      h("span", { class: "words" }, what),
      " ",
      h("code", { class: "tag", title: "the state machine's event" }, entry.event),
      entry.detail ? h("details", {}, h("summary", {}, "detail"), h("pre", {}, pretty(entry.detail))) : null,
    ),
  );
  return true;
}

// Steps, emails and webhook calls, read together; `latest` says whether this read is still the one to show.
async function refreshDetails(page, latest = () => true) {
  const { id } = page;
  const [stepList, emailList, callList] = await Promise.all([
    api(`/executions/${id}/steps`),
    api(`/emails?execution=${id}`),
    api(`/executions/${id}/webhooks?limit=1000`),
  ]);
  page.catalog ??= await api("/actions?limit=1000");
  if (!latest()) return;
  put(page.steps, stepsTable(stepList.items, actionOf(page)));
  put(page.stepTimes, stepTimeline(stepList.items));
  put(page.emails, emailList.items.length ? emailsTable(emailList.items) : message("No emails."));
  put(page.webhooks, callList.items.length ? callsTable(callList.items) : message("No webhook calls."));
}

// A node's action, as the catalog describes it (`undefined` for a node of another kind).
function actionOf(page) {
  const byKey = new Map(page.catalog.items.map((a) => [a.key, a]));
  const byNode = new Map(page.definition.nodes.filter((n) => n.type === "action").map((n) => [n.id, n.action]));
  return (node) => {
    const key = byNode.get(node);
    return key && { key, description: byKey.get(key)?.description ?? "not in the catalog" };
  };
}

function stepsTable(items, actionOf) {
  const head = ["Node", "Visit", "Attempt", "Status", "Started", "Finished", "Input", "Output", "Error"];
  return table(
    head,
    items.map((st) =>
      h(
        "tr",
        { "data-node": st.node, "data-visit": st.visit, "data-status": st.status },
        h("td", {}, st.node, actionCell(actionOf(st.node))),
        h("td", {}, String(st.visit)),
        h("td", {}, String(st.attempt)),
        h("td", {}, st.status),
        h("td", {}, when(st.started_at)),
        h("td", {}, when(st.finished_at)),
        h("td", {}, jsonCell(st.input)),
        h("td", {}, jsonCell(st.output)),
        h("td", { class: "error-text" }, jsonCell(st.error)),
      ),
    ),
  );
}

function actionCell(action) {
  if (!action) return null;
  return h(
    "p",
    { class: "action-note", title: action.description },
    h("code", {}, action.key),
    ` ${action.description}`,
  );
}

function emailsTable(items) {
  return table(
    ["To", "Subject", "Template", "Node", "Status", "Sent"],
    items.map((m) =>
      h(
        "tr",
        {},
        h("td", {}, m.to),
        h("td", {}, m.subject),
        h("td", {}, m.template),
        h("td", {}, m.node),
        h("td", {}, m.status),
        h("td", {}, when(m.sent_at || m.created_at)),
      ),
    ),
  );
}

function callsTable(items) {
  const head = ["Node", "Attempt", "Method", "URL", "Status", "Error", "Duration", "Idempotency-Key", "At"];
  return table(head, items.map(callRow), { id: "webhook-calls" });
}

function callRow(c) {
  const ok = c.status < 300;
  const status =
    c.status == null
      ? "—"
      : h("span", { class: `badge ${ok ? "http-ok" : "http-bad"}` }, `${ok ? "✓" : "✗"} ${c.status}`);
  return h(
    "tr",
    { "data-status": c.status ?? "" },
    h("td", {}, c.node || ""),
    h("td", {}, String(c.attempt)),
    h("td", {}, c.method),
    h("td", { class: "mono url" }, c.url),
    h("td", {}, status),
    h("td", { class: "error-text" }, c.error || ""),
    h("td", {}, c.duration_ms == null ? "" : `${Math.round(c.duration_ms)} ms`),
    h("td", { class: "mono" }, c.idempotency_key),
    h("td", {}, when(c.at)),
  );
}

// The live feed: the state at each connection's start, then each transition as it commits.
function follow(page) {
  page.feed?.abort();
  const feed = (page.feed = new AbortController());
  page.signal.addEventListener("abort", () => feed.abort(), { once: true });
  // Events are handled in order; the history read at each connection's start fills what came before it.
  let queue = Promise.resolve();
  stream(`/executions/${page.id}/events`, {
    signal: feed.signal,
    follow: false,
    onEvent: (ev) => {
      queue = queue.then(() => onEvent(page, ev)).catch(console.warn);
    },
  });
}

async function onEvent(page, ev) {
  if (ev.event === "state") {
    page.execution = ev.data;
    for (const entry of (await api(`/executions/${page.id}/history`)).items) addHistory(page, entry);
    render(page);
    refreshSoon(page); // steps and calls made before this connection (all of them, if it has already ended)
  } else if (ev.event === "transition" && addHistory(page, ev.data)) {
    page.execution = { ...page.execution, state: ev.data.to };
    render(page);
    refreshSoon(page);
  }
}

function refreshSoon(page) {
  // Several transitions commit together; read the execution and its steps once for the burst.
  clearTimeout(page.pending);
  page.pending = setTimeout(async () => {
    // Answers can come back out of order: only the latest read is shown, or a stale one could stay.
    const mine = ++page.reads;
    const fresh = await api(`/executions/${page.id}`);
    if (mine !== page.reads) return;
    page.execution = fresh;
    render(page);
    await refreshDetails(page, () => mine === page.reads);
  }, 150);
}
