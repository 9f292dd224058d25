// The editor: build or change a workflow on a canvas (add, connect, remove nodes), each node's form made from its
// kind's JSON Schema (GET /node-types) and an action's from its params schema (GET /actions); every change is
// checked by the API (POST /definitions/check) and its refusals shown on the nodes; saved as a draft, then
// published. The edge fields of each kind are the server's; nothing here restates them.

import { api } from "./api.js";
import { h, message, put } from "./dom.js";
import { drawGraph } from "./graph.js";
import { schemaForm } from "./schemaform.js";

const CHECK_DELAY_MS = 250;

/** The editor on an empty canvas (`#/editor`), or on a workflow's newest version (`#/editor/<id or name>`). */
export async function editorView(root, [ref]) {
  const ed = await openEditor(ref);
  put(
    root,
    h("h1", {}, ref ? `Edit ${ed.doc.name}` : "New workflow"),
    headerPart(ed),
    addPart(ed),
    h("div", { class: "editor columns" }, h("section", {}, h("h2", {}, "Graph"), ed.canvas), ed.panel),
    h("section", {}, h("h2", {}, "Problems"), ed.problems),
    savePart(ed),
  );
  redraw(ed);
  showPanel(ed);
  await check(ed);
}

async function openEditor(ref) {
  const [types, catalog] = await Promise.all([api("/node-types"), api("/actions?limit=1000")]);
  let doc = { name: "", start: "", nodes: [] };
  if (ref) {
    const workflow = await api(`/workflows/${encodeURIComponent(ref)}`);
    const versions = await api(`/workflows/${workflow.id}/versions`);
    doc = structuredClone(versions.items[0]?.definition || workflow.definition);
  }
  const ed = {
    doc,
    kinds: new Map(types.items.map((k) => [k.type, k])),
    actions: new Map(catalog.items.map((a) => [a.key, a])),
    selected: null,
    problems: h("ul", { id: "ed-problems", class: "problems" }),
    invalid: new Map(),
    graph: null,
    canvas: h("div", { id: "ed-canvas" }),
    panel: h("section", { id: "ed-panel" }),
    notice: h("div", { "aria-live": "polite", id: "ed-notice" }),
    timer: null,
    checks: 0,
  };
  // A click on a node's box selects it for its form.
  ed.canvas.addEventListener("click", (ev) => {
    const box = ev.target.closest?.("g.node");
    if (box) select(ed, box.dataset.node);
  });
  return ed;
}

// The graph as the kinds declare their edges: each edge field of a node that names a node of the draft.
function provisionalGraph(ed) {
  const ids = new Set(ed.doc.nodes.map((n) => n.id));
  const edges = [];
  for (const node of ed.doc.nodes) {
    for (const field of ed.kinds.get(node.type)?.edges || []) {
      for (const to of [node[field]].flat()) if (ids.has(to)) edges.push({ from: node.id, to, kind: field });
    }
  }
  return { start: ed.doc.start, nodes: ed.doc.nodes.map(({ id, type }) => ({ id, type })), edges };
}

function redraw(ed) {
  const graph = ed.graph || provisionalGraph(ed);
  put(
    ed.canvas,
    ed.doc.nodes.length
      ? drawGraph({ definition: ed.doc, graph }, { selected: ed.selected, invalid: ed.invalid }, "ed")
      : message("An empty canvas: add a node."),
  );
  ed.startSelect &&
    put(
      ed.startSelect,
      h("option", { value: "" }, "—"),
      ed.doc.nodes.map((n) => h("option", { value: n.id, selected: n.id === ed.doc.start }, n.id)),
    );
}

function changed(ed) {
  ed.graph = null;
  redraw(ed);
  clearTimeout(ed.timer);
  ed.timer = setTimeout(() => check(ed), CHECK_DELAY_MS);
}

// The API's verdict on the draft as it stands: its graph, or its problems shown on their nodes.
async function check(ed) {
  const mine = ++ed.checks;
  ed.invalid = new Map();
  let problems;
  try {
    const answer = await api("/definitions/check", { method: "POST", body: ed.doc });
    if (mine !== ed.checks) return;
    ed.graph = answer.graph;
    problems = answer.warnings.map((w) => ({ pointer: w.field, message: w.message, warning: true }));
  } catch (error) {
    if (mine !== ed.checks) return;
    problems = error.details?.errors || [{ pointer: error.details?.field || "", message: error.message }];
  }
  for (const p of problems) {
    const at = /^\/nodes\/(\d+)/.exec(p.pointer || "");
    const node = at && ed.doc.nodes[Number(at[1])];
    if (node && !p.warning && !ed.invalid.has(node.id)) ed.invalid.set(node.id, p.message);
  }
  put(
    ed.problems,
    problems.length
      ? problems.map((p) =>
          h("li", { class: p.warning ? "note" : "error-text" }, h("code", {}, p.pointer || "/"), ` ${p.message}`),
        )
      : h("li", { class: "note", id: "ed-valid" }, "No problems: this definition can be saved."),
  );
  ed.problems.dataset.count = String(problems.filter((p) => !p.warning).length);
  redraw(ed);
  if (ed.selected) showPanel(ed);
}

function headerPart(ed) {
  const name = h("input", { type: "text", id: "ed-name", value: ed.doc.name, size: 30, placeholder: "welcome-emails" });
  name.addEventListener("input", () => {
    ed.doc.name = name.value;
    changed(ed);
  });
  ed.startSelect = h("select", { id: "ed-start" });
  ed.startSelect.addEventListener("change", () => {
    ed.doc.start = ed.startSelect.value;
    changed(ed);
  });
  return h(
    "div",
    { class: "filters" },
    h("label", { for: "ed-name" }, "Name"),
    name,
    h("label", { for: "ed-start" }, "Start"),
    ed.startSelect,
  );
}

function addPart(ed) {
  const kind = h(
    "select",
    { id: "ed-kind" },
    [...ed.kinds.values()].map((k) => h("option", { value: k.type, title: k.description }, k.type)),
  );
  const id = h("input", { type: "text", id: "ed-id", size: 16, placeholder: "node id" });
  const add = () => {
    const nodeId = id.value.trim() || `${kind.value}_${ed.doc.nodes.length + 1}`;
    if (ed.doc.nodes.some((n) => n.id === nodeId)) {
      put(ed.notice, message(`There is a node ${nodeId} already.`, "error"));
      return;
    }
    ed.doc.nodes.push({ id: nodeId, type: kind.value });
    if (!ed.doc.start) ed.doc.start = nodeId;
    id.value = "";
    put(ed.notice);
    select(ed, nodeId);
    changed(ed);
  };
  return h(
    "div",
    { class: "filters", role: "group", "aria-label": "Add a node" },
    h("label", { for: "ed-kind" }, "Add a"),
    kind,
    h("label", { for: "ed-id" }, "node named"),
    id,
    h("button", { type: "button", id: "ed-add", onclick: add }, "Add node"),
    ed.notice,
  );
}

function select(ed, nodeId) {
  ed.selected = nodeId;
  if (ed.graph && !ed.graph.nodes.some((n) => n.id === nodeId)) ed.graph = null; // the server's is older
  redraw(ed);
  showPanel(ed);
}

// The selected node's form: its kind's fields, a choice of node per edge field, an action's params.
function showPanel(ed) {
  const node = ed.doc.nodes.find((n) => n.id === ed.selected);
  if (!node) {
    put(ed.panel, h("h2", {}, "Node"), message("Select a node on the graph to edit it."));
    return;
  }
  const kind = ed.kinds.get(node.type);
  const edges = kind?.edges || [];
  const isAction = node.type === "action";
  const fields = schemaForm(kind?.schema || {}, node, {
    skip: ["type", "id", ...edges, ...(isAction ? ["action", "params"] : [])],
    prefix: "node",
  });
  const links = edges.map((field) =>
    h(
      "div",
      { class: "form-row", "data-edge": field },
      h("label", { for: `edge-${field}` }, `${field.replaceAll("_", " ")} →`),
      h(
        "select",
        { id: `edge-${field}`, "data-field": field },
        h("option", { value: "" }, "— (end)"),
        ed.doc.nodes
          .filter((n) => n.id !== node.id)
          .map((n) => h("option", { value: n.id, selected: node[field] === n.id }, n.id)),
      ),
    ),
  );
  const action = isAction ? actionPart(ed, node) : null;
  const apply = () => {
    let values;
    try {
      values = fields.read();
    } catch (error) {
      put(ed.notice, message(error.message, "error"));
      return;
    }
    const next = { id: node.id, type: node.type, ...values };
    for (const el of ed.panel.querySelectorAll("select[data-field]")) if (el.value) next[el.dataset.field] = el.value;
    if (action) Object.assign(next, action.read());
    Object.keys(node).forEach((k) => delete node[k]);
    Object.assign(node, next);
    changed(ed);
  };
  const problem = ed.invalid.get(node.id);
  put(
    ed.panel,
    h("h2", {}, `${node.id} `, h("small", {}, node.type)),
    problem ? message(problem, "error") : null,
    h(
      "form",
      { id: "ed-node", onchange: apply, onsubmit: (ev) => ev.preventDefault() },
      links,
      action?.element,
      fields.element,
    ),
    h("p", {}, h("button", { type: "button", id: "ed-remove", onclick: () => remove(ed, node.id) }, "Remove node")),
  );
}

// An action node: which action (from the catalog), and its params as the action's schema describes them.
function actionPart(ed, node) {
  const choice = h(
    "select",
    { id: "node-action" },
    h("option", { value: "" }, "—"),
    [...ed.actions.values()].map((a) => h("option", { value: a.key, selected: a.key === node.action }, a.key)),
  );
  const schema = ed.actions.get(node.action)?.versions?.[0]?.params_schema;
  const params = schema ? schemaForm(schema, node.params || {}, { prefix: "param" }) : null;
  return {
    element: h(
      "div",
      { class: "action-part" },
      h("div", { class: "form-row" }, h("label", { for: "node-action" }, "action"), choice),
      params ? h("fieldset", {}, h("legend", {}, "params"), params.element) : null,
    ),
    read() {
      const out = { action: choice.value };
      // A new choice of action starts from empty params: the old ones were another action's.
      if (params && choice.value === node.action) {
        const values = params.read();
        if (Object.keys(values).length) out.params = values;
      }
      return out;
    },
  };
}

function remove(ed, nodeId) {
  ed.doc.nodes = ed.doc.nodes.filter((n) => n.id !== nodeId);
  for (const node of ed.doc.nodes) {
    for (const field of ed.kinds.get(node.type)?.edges || []) if (node[field] === nodeId) delete node[field];
  }
  if (ed.doc.start === nodeId) ed.doc.start = ed.doc.nodes[0]?.id || "";
  ed.selected = null;
  showPanel(ed);
  changed(ed);
}

// Save as a draft (executions keep the current version), then publish it.
function savePart(ed) {
  const notice = h("div", { "aria-live": "polite", id: "ed-saved" });
  const publish = (draft) => async () => {
    try {
      const workflow = await api(`/workflows/${draft.workflow_id}/versions/${draft.version}/publish`, {
        method: "POST",
      });
      put(
        notice,
        message(`Published: v${workflow.version} is live. `),
        h("a", { href: `#/workflows/${workflow.id}`, id: "ed-open" }, "Open the workflow →"),
      );
    } catch (error) {
      put(notice, message(error.message, "error"));
    }
  };
  const save = async () => {
    try {
      const draft = await api("/drafts", { method: "POST", body: ed.doc });
      put(
        notice,
        message(`Saved as draft v${draft.version}: executions do not use it until it is published.`),
        h("button", { type: "button", id: "ed-publish", onclick: publish(draft) }, `Publish v${draft.version}`),
      );
    } catch (error) {
      put(notice, message(error.message, "error"));
      await check(ed);
    }
  };
  return h(
    "section",
    {},
    h("h2", {}, "Save"),
    h("p", {}, h("button", { type: "button", id: "ed-save", onclick: save }, "Save draft")),
    notice,
  );
}
