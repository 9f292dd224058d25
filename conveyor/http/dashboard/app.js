// The dashboard's router: the hash names the page; each page renders into <main> and stops its streams on leaving.

import { actionsView } from "./actions.js";
import { allowed, session } from "./api.js";
import { auditView } from "./audit.js";
import { h, message, put } from "./dom.js";
import { editorView } from "./editor.js";
import { executionView } from "./execution.js";
import { executionsView } from "./executions.js";
import { messagesView } from "./messages.js";
import { systemView } from "./system.js";
import { triggersView } from "./triggers.js";
import { workflowView, workflowsView } from "./workflows.js";

const PAGES = [
  [/^\/executions\/([0-9a-f-]{36})$/, executionView, "executions"],
  [/^\/editor(?:\/([^/]+))?$/, editorView, "workflows"],
  [/^\/workflows\/([^/]+)$/, workflowView, "workflows"],
  [/^\/workflows$/, workflowsView, "workflows"],
  [/^\/triggers$/, triggersView, "triggers"],
  [/^\/messages$/, messagesView, "messages"],
  [/^\/actions$/, actionsView, "actions"],
  [/^\/system$/, systemView, "system"],
  [/^\/audit$/, auditView, "audit"],
  [/^(?:\/executions)?\/?$/, executionsView, "executions"],
];

let leaving = null;

async function show() {
  leaving?.abort();
  leaving = new AbortController();
  const live = document.getElementById("live");
  live.textContent = "not live";
  live.dataset.live = "static"; // a page that follows a stream says "live" once it is connected
  const signal = leaving.signal;
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const main = document.getElementById("view");
  const found = PAGES.find(([pattern]) => pattern.test(path));
  for (const link of document.querySelectorAll("nav a")) {
    if (found && link.dataset.section === found[2]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!found) {
    put(main, h("h1", {}, "Not found"), message(`No page ${path}.`, "error"));
    return;
  }
  const [pattern, view] = found;
  const args = pattern
    .exec(path)
    .slice(1)
    .map((arg) => arg && decodeURIComponent(arg));
  try {
    await view(main, view === executionsView ? new URLSearchParams(search) : args, signal);
  } catch (error) {
    if (!signal.aborted) put(main, h("h1", {}, "Could not load this page"), message(error.message, "error"));
  }
  document.body.dataset.ready = path || "/";
}

// Signed in first (a 401 asks for a key), so each page knows what the role may do before it draws its buttons.
async function start() {
  const me = await session();
  const badge = document.getElementById("who");
  badge.textContent = `${me.namespace} · ${me.role}`;
  badge.title = me.actor;
  document.querySelector('nav a[data-section="audit"]').hidden = !allowed("get_audit");
  window.addEventListener("hashchange", show);
  await show();
}

start();
