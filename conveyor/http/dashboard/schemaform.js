// Forms generated from a JSON Schema (a workflow's input_schema, a node kind's, an action's params): a field per
// property; a nested object or a list is edited as JSON. The server checks the result; the form only helps.

import { h } from "./dom.js";

// A property's own schema, through a `$ref` into the root's $defs and a nullable anyOf (pydantic writes both).
function resolved(root, schema) {
  let found = schema || {};
  for (let i = 0; i < 5 && found.$ref; i++) {
    const name = found.$ref.split("/").pop();
    found = { ...(root.$defs?.[name] || {}), ...found, $ref: undefined };
  }
  const options = found.anyOf?.filter((o) => o.type !== "null");
  return options?.length === 1 ? { ...resolved(root, options[0]), ...found, anyOf: undefined } : found;
}

function kindOf(schema) {
  if (schema.enum) return "enum";
  if (schema.const !== undefined) return "const";
  return ["string", "integer", "number", "boolean"].includes(schema.type) ? schema.type : "json";
}

function input(id, schema, value) {
  const kind = kindOf(schema);
  if (kind === "enum") {
    return h(
      "select",
      { id },
      h("option", { value: "" }, "—"),
      schema.enum.map((v) => h("option", { value: JSON.stringify(v), selected: value === v }, String(v))),
    );
  }
  if (kind === "boolean") return h("input", { id, type: "checkbox", checked: value === true });
  if (kind === "integer" || kind === "number") {
    return h("input", { id, type: "number", step: kind === "integer" ? "1" : "any", value: value ?? "" });
  }
  if (kind === "string") return h("input", { id, type: "text", value: value ?? "", size: 30 });
  return h("textarea", { id, rows: 3, cols: 40, class: "mono" }, value === undefined ? "" : JSON.stringify(value));
}

function read(el, schema, name) {
  const kind = kindOf(schema);
  if (kind === "boolean") return el.checked;
  if (el.value === "") return undefined;
  if (kind === "enum") return JSON.parse(el.value);
  if (kind === "integer" || kind === "number") return Number(el.value);
  if (kind === "string") return el.value;
  try {
    return JSON.parse(el.value);
  } catch {
    throw new Error(`${name}: not JSON`);
  }
}

/**
 * A form part for an object schema: `element` (labelled fields), `read()` (the object, leaving out empty fields,
 * throwing on a JSON field that does not parse) and `mark(name, text)` (an error shown by a field). `skip` names
 * properties not to show; `prefix` keeps ids unique.
 */
export function schemaForm(root, value = {}, { skip = [], prefix = "f" } = {}) {
  // The required ones first, as listed; then the rest by name (a stored schema's keys keep no order).
  const order = root.required || [];
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  const props = Object.entries(root.properties || {})
    .filter(([name]) => !skip.includes(name))
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  const required = new Set(order);
  const fields = props.map(([name, raw]) => {
    const schema = resolved(root, raw);
    const id = `${prefix}-${name}`;
    const el = input(id, schema, value[name]);
    const note = h("span", { class: "field-error", role: "alert" });
    const help = schema.description || raw.description || "";
    const label = h("label", { for: id }, name, required.has(name) ? " *" : "");
    return {
      name,
      schema,
      el,
      note,
      row: h("div", { class: "form-row", "data-field": name }, label, el, help ? h("small", {}, help) : null, note),
    };
  });
  return {
    element: h(
      "div",
      { class: "schema-form" },
      fields.map((f) => f.row),
    ),
    read() {
      const out = {};
      for (const f of fields) {
        f.note.textContent = "";
        const v = read(f.el, f.schema, f.name);
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    },
    mark(name, text) {
      const f = fields.find((x) => x.name === name);
      if (f) f.note.textContent = text;
      return Boolean(f);
    },
  };
}
