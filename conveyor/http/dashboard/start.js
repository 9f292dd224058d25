// Starting an execution from the dashboard: a form from the workflow's input_schema, or the input as JSON.

import { api } from "./api.js";
import { h, message, put } from "./dom.js";
import { schemaForm } from "./schemaform.js";

/** The "Start an execution" section of a workflow page; a started execution's page opens. */
export function startPart(workflow) {
  const schema = workflow.definition.input_schema;
  const notice = h("div", { "aria-live": "polite", id: "start-notice" });
  const form = schema ? schemaForm(schema, {}, { prefix: "input" }) : null;
  const json = h(
    "textarea",
    { id: "start-json", rows: 4, cols: 50, class: "mono", "aria-label": "Input as JSON" },
    "{}",
  );
  const asJson = h("input", { type: "checkbox", id: "start-as-json", checked: !schema });
  const start = h("button", { type: "submit", id: "start" }, "Start");
  const toggle = () => {
    json.hidden = !asJson.checked;
    if (form) form.element.hidden = asJson.checked;
  };
  asJson.addEventListener("change", toggle);
  toggle();
  const submit = async (ev) => {
    ev.preventDefault();
    put(notice);
    let input;
    try {
      input = asJson.checked ? JSON.parse(json.value || "{}") : form.read();
    } catch (error) {
      put(notice, message(`The input is not JSON: ${error.message}`, "error"));
      return;
    }
    try {
      const execution = await api(`/workflows/${workflow.id}/executions`, { method: "POST", body: { input } });
      location.hash = `#/executions/${execution.id}`;
    } catch (error) {
      // A refusal naming an input field is shown by that field too.
      const field = error.details?.field?.replace(/^\/input\//, "").split("/")[0];
      if (field && form && !asJson.checked) form.mark(field, error.message);
      put(notice, message(error.message, "error"));
    }
  };
  return h(
    "section",
    {},
    h("h2", {}, "Start an execution"),
    h(
      "form",
      { class: "start-form", onsubmit: submit },
      form ? form.element : message("No input_schema declared: give the input as JSON."),
      json,
      h("p", {}, form ? h("label", {}, asJson, " as JSON") : null, " ", start),
    ),
    notice,
  );
}
