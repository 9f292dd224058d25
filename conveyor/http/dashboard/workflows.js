// Workflows: the list with versions, and one workflow's graph, definition, versions compared, counts and triggers.

import { api } from "./api.js";
import { trendsPart } from "./charts.js";
import { badge, h, message, pretty, put, table, when } from "./dom.js";
import { definitionDiff, lineDiff } from "./diff.js";
import { drawGraph } from "./graph.js";
import { startPart } from "./start.js";
import { triggersTable } from "./triggers.js";

/** Every workflow, by name. */
export async function workflowsView(root) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(`/workflows?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < 10000);
  put(
    root,
    h("h1", {}, "Workflows"),
    h("p", {}, h("a", { href: "#/editor", id: "new-workflow" }, "+ New workflow")),
    items.length
      ? table(
          ["Name", "Version", "Active", "Nodes", "Updated", "Description"],
          items.map((w) =>
            h(
              "tr",
              {},
              h("td", {}, h("a", { href: `#/workflows/${w.id}` }, w.name)),
              h("td", {}, `v${w.version}`),
              h("td", {}, w.active ? "active" : "inactive"),
              h("td", {}, String(w.definition.nodes.length)),
              h("td", {}, when(w.updated_at)),
              h("td", {}, w.description || ""),
            ),
          ),
          { id: "workflows" },
        )
      : message("No workflows yet: POST one to /workflows."),
  );
}

function versionSelect(versions, selected, label) {
  return h(
    "select",
    { "aria-label": label },
    versions.map((v) =>
      h(
        "option",
        { value: String(v.version), selected: v.version === selected },
        `v${v.version} · ${when(v.created_at)}`,
      ),
    ),
  );
}

// What changed, node by node, above the two texts side by side.
function changesList(left, right) {
  const changes = definitionDiff(left.definition, right.definition);
  if (!changes.length) return null;
  const sign = { added: "+", removed: "−", changed: "~" };
  return h(
    "ul",
    { class: "changes", id: "changes" },
    changes.map((c) =>
      h(
        "li",
        { class: `change-${c.change}`, "data-change": c.change, "data-where": c.where },
        `${sign[c.change]} `,
        h("code", {}, c.where),
        ` ${c.change}`,
        c.fields.length ? `: ${c.fields.join(", ")}` : "",
      ),
    ),
  );
}

function compare(left, right) {
  if (left.version === right.version) return message(`Choose two different versions to compare.`);
  const rows = lineDiff(pretty(left.definition), pretty(right.definition));
  const changed = rows.filter((r) => r[2] !== "same").length;
  return h(
    "div",
    {},
    message(
      changed
        ? `${changed} ${changed === 1 ? "line differs" : "lines differ"} between v${left.version} and v${right.version}.`
        : "The two versions are the same.",
    ),
    changesList(left, right),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "diff" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col" }, `v${left.version}`), h("th", { scope: "col" }, `v${right.version}`)),
        ),
        h(
          "tbody",
          {},
          rows.map(([a, b, kind]) =>
            h(
              "tr",
              { class: kind },
              h("td", {}, h("code", {}, a === null ? "" : `${kind === "same" ? " " : "−"} ${a}`)),
              h("td", {}, h("code", {}, b === null ? "" : `${kind === "same" ? " " : "+"} ${b}`)),
            ),
          ),
        ),
      ),
    ),
  );
}

// Drafts newer than the current version, each with a button that publishes it.
function draftsPart(workflow, versions) {
  const drafts = versions.filter((v) => v.draft && v.version > workflow.version);
  if (!drafts.length) return null;
  const notice = h("div", { "aria-live": "polite" });
  const publish = (v) => async () => {
    try {
      await api(`/workflows/${workflow.id}/versions/${v.version}/publish`, { method: "POST" });
      window.dispatchEvent(new HashChangeEvent("hashchange")); // the page again, as it now stands
    } catch (error) {
      put(notice, message(error.message, "error"));
    }
  };
  return h(
    "section",
    { id: "drafts" },
    h("h2", {}, "Drafts"),
    h(
      "ul",
      {},
      drafts.map((v) =>
        h(
          "li",
          {},
          `v${v.version} · ${when(v.created_at)} `,
          h("button", { type: "button", "data-publish": v.version, onclick: publish(v) }, "Publish"),
        ),
      ),
    ),
    notice,
  );
}

/** One workflow. */
export async function workflowView(root, [ref]) {
  const workflow = await api(`/workflows/${encodeURIComponent(ref)}`);
  const [versions, stats, triggers] = await Promise.all([
    api(`/workflows/${workflow.id}/versions`),
    api(`/workflows/${workflow.id}/statistics`),
    api(`/triggers?workflow=${workflow.id}&limit=1000`),
  ]);
  const list = versions.items.slice().sort((a, b) => a.version - b.version);
  const byVersion = new Map(list.map((v) => [v.version, v]));
  const newest = list[list.length - 1] || { version: workflow.version, definition: workflow.definition };
  const older = list.length > 1 ? list[list.length - 2] : newest;
  const left = versionSelect(list, older.version, "Left version");
  const right = versionSelect(list, newest.version, "Right version");
  const diff = h("div", { id: "diff" }, compare(older, newest));
  const redraw = () => put(diff, compare(byVersion.get(Number(left.value)), byVersion.get(Number(right.value))));
  left.addEventListener("change", redraw);
  right.addEventListener("change", redraw);
  const counts = Object.entries(stats.executions_by_state);
  const triggerNotice = h("div", { "aria-live": "polite" });

  put(
    root,
    h("p", { class: "crumbs" }, h("a", { href: "#/workflows" }, "Workflows")),
    h("h1", {}, workflow.name, " ", h("small", {}, `v${workflow.version}${workflow.active ? "" : " · inactive"}`)),
    h("p", {}, h("a", { href: `#/editor/${workflow.id}` }, "Edit in the editor →")),
    draftsPart(workflow, list),
    workflow.description ? h("p", {}, workflow.description) : null,
    h(
      "section",
      {},
      h("h2", {}, "Executions"),
      h(
        "ul",
        { class: "counts" },
        counts.length
          ? counts.map(([st, n]) =>
              h(
                "li",
                {},
                h(
                  "a",
                  { class: "count", href: `#/executions?workflow=${workflow.id}&state=${st}` },
                  badge(st),
                  h("strong", {}, String(n)),
                ),
              ),
            )
          : h("li", {}, "none yet"),
      ),
      h("p", {}, h("a", { href: `#/executions?workflow=${workflow.id}` }, "All executions of this workflow →")),
    ),
    workflow.active ? startPart(workflow) : null,
    trendsPart(workflow.id),
    h("section", {}, h("h2", {}, "Graph"), drawGraph(byVersion.get(workflow.version) || newest, {}, "wf")),
    h(
      "section",
      {},
      h("h2", {}, "Triggers"),
      triggers.items.length
        ? triggersTable(triggers.items, triggerNotice)
        : message("Manual only: no triggers attached."),
      triggerNotice,
    ),
    h(
      "section",
      {},
      h("h2", {}, "Versions"),
      list.length > 1
        ? [h("div", { class: "filters" }, left, " compared with ", right), diff]
        : message(`Only v${newest.version} so far: a new version (PUT /workflows/{id}) can be compared with it.`),
    ),
    h("section", {}, h("h2", {}, "Definition"), h("pre", { class: "definition" }, pretty(workflow.definition))),
  );
}
