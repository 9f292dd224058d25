// Messages: the emails and text messages steps sent, newest first, with the emails' counts by status.

import { api } from "./api.js";
import { h, message, put, short, table, when } from "./dom.js";

function executionLink(id) {
  return id ? h("a", { href: `#/executions/${id}`, class: "mono", title: id }, short(id)) : "";
}

function status(value) {
  return h("span", { class: `badge delivery-${value}`, "data-status": value }, value);
}

/** The last emails and text messages, and the emails of the last 7 days by status. */
export async function messagesView(root) {
  const [emails, sms, stats] = await Promise.all([
    api("/emails?limit=100"),
    api("/sms?limit=100"),
    api("/emails/statistics?days=7"),
  ]);
  const counts = Object.entries(stats.counts).filter(([k]) => k !== "total");
  put(
    root,
    h("h1", {}, "Messages"),
    h(
      "section",
      {},
      h("h2", {}, "Emails"),
      h(
        "p",
        { id: "email-counts" },
        `Last 7 days: ${stats.counts.total} · `,
        counts.map(([k, n]) => `${n} ${k}`).join(" · "),
      ),
      emails.items.length
        ? table(
            ["To", "Subject", "Template", "Status", "Error", "Execution", "Node", "Sent"],
            emails.items.map((m) =>
              h(
                "tr",
                { "data-email": m.id, "data-status": m.status },
                h("td", {}, m.to),
                h("td", {}, m.subject),
                h("td", {}, m.template),
                h("td", {}, status(m.status)),
                h("td", { class: "error-text" }, m.error || ""),
                h("td", {}, executionLink(m.execution_id)),
                h("td", {}, m.node || ""),
                h("td", {}, when(m.sent_at || m.created_at)),
              ),
            ),
            { id: "emails" },
          )
        : message("No emails yet."),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Text messages"),
      sms.items.length
        ? table(
            ["To", "Body", "Status", "Error", "Execution", "Node", "Sent"],
            sms.items.map((m) =>
              h(
                "tr",
                { "data-status": m.status },
                h("td", {}, m.to),
                h("td", {}, h("span", { class: "clip", title: m.body }, m.body)),
                h("td", {}, status(m.status)),
                h("td", { class: "error-text" }, m.error || ""),
                h("td", {}, executionLink(m.execution_id)),
                h("td", {}, m.node),
                h("td", {}, when(m.sent_at || m.created_at)),
              ),
            ),
            { id: "sms" },
          )
        : message("No text messages yet."),
    ),
  );
}
