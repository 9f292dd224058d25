// Actions: the catalog the workers published, with who provides each version, conflicts, secrets and schemas.

import { api } from "./api.js";
import { h, message, pretty, put, table, when } from "./dom.js";

/** Every published action, by key; `GET /actions` is the catalog. */
export async function actionsView(root) {
  const catalog = await api("/actions?limit=1000");
  put(
    root,
    h("h1", {}, "Actions"),
    catalog.items.length
      ? table(["Key", "Category", "Description", "Provided by", "Secrets", "Params"], catalog.items.map(actionRow), {
          id: "actions",
        })
      : message("No action published yet: a worker publishes the actions it loads when it starts."),
  );
}

function actionRow(entry) {
  const workers = [...new Set(entry.versions.flatMap((v) => v.workers))];
  return h(
    "tr",
    { "data-key": entry.key, "data-provided": String(entry.provided), "data-conflict": String(entry.conflict) },
    h("td", {}, h("code", {}, entry.key), entry.builtin ? h("span", { class: "tag" }, " built-in") : null),
    h("td", {}, entry.category),
    h("td", {}, entry.description),
    h("td", {}, providers(entry, workers)),
    h("td", {}, [...new Set(entry.versions.flatMap((v) => v.secrets))].join(", ")),
    h("td", {}, entry.versions.map(schemaDetails)),
  );
}

function providers(entry, workers) {
  if (!entry.provided) return h("span", { class: "error-text" }, "no live worker: its steps wait for one");
  const listed = h("span", {}, workers.join(", "));
  return entry.conflict ? [listed, h("p", { class: "error-text" }, "live workers provide different versions")] : listed;
}

function schemaDetails(version) {
  return h(
    "details",
    {},
    h("summary", {}, `version ${version.version} · seen ${when(version.last_seen_at)}`),
    h("pre", {}, pretty(version.params_schema)),
  );
}
