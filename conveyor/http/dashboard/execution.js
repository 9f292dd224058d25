// One execution: its graph with the path taken, the live history, steps, emails, webhook calls, and the operator's buttons.

import { api, stateMachine, stream } from "./api.js";
import { badge, h, message, pretty, put, short, table, when } from "./dom.js";
import { drawGraph } from "./graph.js";

// Each button and the machine event that decides whether the state allows it.
const ACTIONS = [
  ["pause", "pause"],
  ["resume", "resume"],
  ["cancel", "cancel"],
  ["retry", "retry"],
];

function jsonCell(value) {
  if (value === null || value === undefined) return "";
  return h("details", {}, h("summary", {}, "show"), h("pre", {}, pretty(value)));
}

/** Render one execution into `root`, live until the page is left. */
export async function executionView(root, [id], signal) {
  const machine = await stateMachine();
  // From the machine, not retyped: the events that close a step (the node they name has run), and those that park
  // an execution in `delayed` on its own (a delay node's sleep; a resume is the operator's).
  const operator = new Set(machine.operator_events);
  const byMachine = machine.transitions.filter((t) => !operator.has(t.event));
  const stepEnds = new Set(byMachine.filter((t) => t.from === "running" && t.to !== "running").map((t) => t.event));
  const sleeps = new Set(byMachine.filter((t) => t.to === "delayed").map((t) => t.event));
  let execution = await api(`/executions/${id}`);
  const workflow = await api(`/workflows/${execution.workflow_id}`);
  const version = await api(`/workflows/${execution.workflow_id}/versions/${execution.workflow_version}`);
  const definition = version.definition;
  const history = [];
  const seen = new Set();

  const summary = h("dl", { class: "summary" });
  const notice = h("div", { "aria-live": "polite" });
  const buttons = ACTIONS.map(([action, event]) =>
    h(
      "button",
      { type: "button", "data-action": action, "data-event": event },
      action[0].toUpperCase() + action.slice(1),
    ),
  );
  const fromNode = h(
    "select",
    { id: "from-node", "aria-label": "Node to run again from" },
    definition.nodes.map((n) => h("option", { value: n.id }, n.id)),
  );
  const rerun = h("button", { type: "button", "data-action": "rerun", "data-event": "rerun" }, "Retry from node");
  const graph = h("div", { id: "graph" });
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const steps = h("div", { id: "steps" });
  const emails = h("div", { id: "emails" });
  const webhooks = h("div", { id: "webhooks" });

  put(
    root,
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: "#/executions" }, "Executions"),
      " / ",
      h("a", { href: `#/workflows/${workflow.id}` }, workflow.name),
      ` v${execution.workflow_version}`,
    ),
    h("h1", {}, "Execution ", h("span", { class: "mono", title: id }, short(id))),
    summary,
    h(
      "div",
      { class: "actions", role: "group", "aria-label": "Operate" },
      buttons,
      h("span", { class: "rerun" }, h("label", { for: "from-node" }, "from "), fromNode, rerun),
    ),
    notice,
    h("section", {}, h("h2", {}, "Graph"), graph),
    h(
      "div",
      { class: "columns" },
      h("section", {}, h("h2", {}, "History"), timeline),
      h("section", {}, h("h2", {}, "Steps"), steps),
    ),
    h("section", {}, h("h2", {}, "Emails"), emails),
    h("section", {}, h("h2", {}, "Webhook calls"), webhooks),
  );

  function path() {
    const nodes = [];
    // A node is on the path once its step has run; operator rows (pause at the next node) do not count.
    for (const entry of history) {
      if (stepEnds.has(entry.event) && entry.node && nodes[nodes.length - 1] !== entry.node) nodes.push(entry.node);
    }
    return nodes;
  }

  function render() {
    put(
      summary,
      h("dt", {}, "State"),
      h("dd", { id: "state" }, badge(execution.state), execution.pause_requested ? " pause requested" : ""),
      h("dt", {}, "Node"),
      h("dd", {}, execution.current_node || "—"),
      h("dt", {}, "Attempt"),
      h("dd", {}, String(execution.attempt)),
      h("dt", {}, "Created"),
      h("dd", {}, when(execution.created_at)),
      execution.wake_at ? [h("dt", {}, "Wakes"), h("dd", {}, when(execution.wake_at))] : null,
      execution.finished_at ? [h("dt", {}, "Finished"), h("dd", {}, when(execution.finished_at))] : null,
      execution.error ? [h("dt", {}, "Error"), h("dd", { class: "error-text" }, pretty(execution.error))] : null,
      h("dt", {}, "Input"),
      h("dd", {}, jsonCell(execution.input)),
      execution.output ? [h("dt", {}, "Output"), h("dd", {}, jsonCell(execution.output))] : null,
    );
    for (const button of [...buttons, rerun]) button.disabled = !machine.allows(execution.state, button.dataset.event);
    fromNode.disabled = rerun.disabled;
    const error = execution.error && (execution.error.message || JSON.stringify(execution.error));
    const taken = path();
    // A delayed execution already points at the node after its delay; the delay node (its last sleep) is the one that waits.
    const slept = history.findLast((entry) => sleeps.has(entry.event));
    const current = execution.state === "delayed" && slept ? slept.node : execution.current_node;
    put(
      graph,
      drawGraph(definition, { path: taken, current, state: execution.state, wakeAt: execution.wake_at, error }, "exec"),
    );
  }

  function addHistory(entry) {
    // The same row read from /history and from the stream: history rows have no id, so key on their content.
    const key = `${entry.at}|${entry.event}|${entry.from}|${entry.to}|${entry.node}`;
    if (seen.has(key)) return false;
    seen.add(key);
    history.push(entry);
    timeline.append(
      h(
        "li",
        { "data-event": entry.event },
        h("time", { datetime: entry.at }, when(entry.at)),
        " ",
        badge(entry.to),
        " ",
        h(
          "span",
          {},
          `${entry.event}${entry.node ? ` at ${entry.node}` : ""}${entry.attempt ? ` (attempt ${entry.attempt})` : ""}`,
        ),
        entry.detail ? h("details", {}, h("summary", {}, "detail"), h("pre", {}, pretty(entry.detail))) : null,
      ),
    );
    return true;
  }

  async function refreshDetails(latest = () => true) {
    const [stepList, emailList, callList] = await Promise.all([
      api(`/executions/${id}/steps`),
      api(`/emails?execution=${id}`),
      api(`/executions/${id}/webhooks?limit=1000`),
    ]);
    if (!latest()) return;
    put(
      steps,
      table(
        ["Node", "Visit", "Attempt", "Status", "Started", "Finished", "Input", "Output", "Error"],
        stepList.items.map((st) =>
          h(
            "tr",
            { "data-node": st.node, "data-visit": st.visit, "data-status": st.status },
            h("td", {}, st.node),
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
      ),
    );
    put(
      emails,
      emailList.items.length
        ? table(
            ["To", "Subject", "Template", "Node", "Status", "Sent"],
            emailList.items.map((m) =>
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
          )
        : message("No emails."),
    );
    put(
      webhooks,
      callList.items.length
        ? table(
            ["Node", "Attempt", "Method", "URL", "Status", "Error", "Duration", "Idempotency-Key", "At"],
            callList.items.map((c) =>
              h(
                "tr",
                { "data-status": c.status ?? "" },
                h("td", {}, c.node || ""),
                h("td", {}, String(c.attempt)),
                h("td", {}, c.method),
                h("td", { class: "mono url" }, c.url),
                h(
                  "td",
                  {},
                  c.status == null
                    ? "—"
                    : h(
                        "span",
                        { class: `badge ${c.status < 300 ? "http-ok" : "http-bad"}` },
                        `${c.status < 300 ? "✓" : "✗"} ${c.status}`,
                      ),
                ),
                h("td", { class: "error-text" }, c.error || ""),
                h("td", {}, c.duration_ms == null ? "" : `${Math.round(c.duration_ms)} ms`),
                h("td", { class: "mono" }, c.idempotency_key),
                h("td", {}, when(c.at)),
              ),
            ),
            { id: "webhook-calls" },
          )
        : message("No webhook calls."),
    );
  }

  let pending = null,
    reads = 0;
  function refreshSoon() {
    // Several transitions commit together; read the execution and its steps once for the burst.
    clearTimeout(pending);
    pending = setTimeout(async () => {
      // Answers can come back out of order: only the latest read is shown, or a stale one could stay.
      const mine = ++reads;
      const fresh = await api(`/executions/${id}`);
      if (mine !== reads) return;
      execution = fresh;
      render();
      await refreshDetails(() => mine === reads);
    }, 150);
  }

  let feed = null;
  function follow() {
    feed?.abort();
    feed = new AbortController();
    signal.addEventListener("abort", () => feed.abort(), { once: true });
    // Events are handled in order; the history read at each connection's start fills what came before it.
    let queue = Promise.resolve();
    const handle = async (ev) => {
      if (ev.event === "state") {
        execution = ev.data;
        for (const entry of (await api(`/executions/${id}/history`)).items) addHistory(entry);
        render();
        refreshSoon(); // steps and calls made before this connection (all of them, if it has already ended)
      } else if (ev.event === "transition" && addHistory(ev.data)) {
        execution = { ...execution, state: ev.data.to };
        render();
        refreshSoon();
      }
    };
    stream(`/executions/${id}/events`, {
      signal: feed.signal,
      follow: false,
      onEvent: (ev) => {
        queue = queue.then(() => handle(ev)).catch(console.warn);
      },
    });
  }

  async function act(action, body) {
    try {
      execution = await api(`/executions/${id}/${action}`, { method: "POST", body });
      render();
      put(notice, message(`${action}: now ${execution.state}${execution.pause_requested ? " (pause requested)" : ""}`));
      follow(); // an ended execution's stream has closed; a restarted one is followed again
    } catch (error) {
      put(notice, message(error.message, "error"));
    }
  }

  for (const button of buttons) button.addEventListener("click", () => act(button.dataset.action));
  rerun.addEventListener("click", () => act("retry", { from_node: fromNode.value }));

  for (const entry of (await api(`/executions/${id}/history`)).items) addHistory(entry);
  render();
  follow();
  await refreshDetails();
}
