// System: live workers, recovery figures, the backlog, and a recovery button; read again as transitions arrive.

import { allowed, api, stream } from "./api.js";
import { trendsPart } from "./charts.js";
import { badge, confirmDialog, h, message, put, table, when } from "./dom.js";

/** The system page, live until it is left. */
export async function systemView(root, _args, signal) {
  const notice = h("div", { "aria-live": "polite" });
  const body = h("div");
  const refresh = h("button", { type: "button" }, "Refresh");
  const recover = h(
    "button",
    { type: "button", id: "recover", hidden: !allowed("post_recovery_recover") },
    "Recover now",
  );
  put(root, h("h1", {}, "System"), h("div", { class: "actions" }, refresh, recover), notice, trendsPart(), body);

  let reads = 0;
  async function load() {
    const [stats, health] = await Promise.all([api("/recovery/statistics"), api("/health")]);
    const overdue = stats.overdue_wakeups;
    put(
      body,
      h(
        "section",
        {},
        h("h2", {}, "Health"),
        h("p", {}, `Status ${health.status ?? "?"}`),
        h("details", {}, h("summary", {}, "health answer"), h("pre", {}, JSON.stringify(health, null, 2))),
      ),
      h(
        "section",
        {},
        h("h2", {}, "Workers"),
        stats.live_workers.length
          ? table(
              ["Worker", "Host", "PID", "Started", "Last heartbeat", "In flight"],
              stats.live_workers.map((w) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "mono" }, w.id),
                  h("td", {}, w.hostname),
                  h("td", {}, String(w.pid)),
                  h("td", {}, when(w.started_at)),
                  h("td", {}, when(w.last_heartbeat_at)),
                  h("td", {}, String(w.in_flight)),
                ),
              ),
              { id: "workers" },
            )
          : message("No live worker: nothing is running executions.", "error"),
      ),
      h(
        "section",
        {},
        h("h2", {}, "Backlog"),
        h(
          "dl",
          { class: "summary" },
          h("dt", {}, "Lapsed leases"),
          h("dd", {}, String(stats.lapsed_leases)),
          h("dt", {}, "Overdue wake-ups"),
          h(
            "dd",
            {},
            `${overdue.count} (due more than ${overdue.grace_seconds} s ago; worst ${Number(overdue.worst_lateness_seconds).toFixed(1)} s late)`,
          ),
          h("dt", {}, "Pending inbox rows"),
          h(
            "dd",
            {},
            `${stats.inbox.pending}${stats.inbox.oldest_pending_at ? `, oldest ${when(stats.inbox.oldest_pending_at)}` : ""}`,
          ),
        ),
      ),
      h(
        "section",
        {},
        h("h2", {}, "Executions by state"),
        h(
          "ul",
          { class: "counts" },
          Object.keys(stats.executions_by_state).length ? null : h("li", {}, "none yet"),
          Object.entries(stats.executions_by_state).map(([st, n]) =>
            h(
              "li",
              {},
              h("a", { class: "count", href: `#/executions?state=${st}` }, badge(st), h("strong", {}, String(n))),
            ),
          ),
        ),
      ),
    );
    body.dataset.reads = String(++reads);
  }

  // A transition changes the counts, the backlog and the workers' in-flight figures: read them again, once per
  // burst (a busy system sends hundreds a second), and never more than one read at a time.
  let timer = null,
    reading = null,
    again = false;
  function soon() {
    if (!timer && !signal.aborted) timer = setTimeout(read, 250);
  }
  async function read() {
    timer = null;
    if (reading) {
      again = true;
      return;
    }
    reading = load().catch((e) => put(notice, message(e.message, "error")));
    await reading;
    reading = null;
    if (again) {
      again = false;
      soon();
    }
  }

  refresh.addEventListener("click", () => load().catch((e) => put(notice, message(e.message, "error"))));
  recover.addEventListener("click", async () => {
    if (
      !(await confirmDialog(
        "Recover now?",
        "Hand back to the workers every execution held by a worker that has gone silent, and every lapsed lease.",
      ))
    )
      return;
    try {
      const done = await api("/recovery/recover", { method: "POST", body: {} });
      const by = Object.entries(done.recovered.by_state)
        .map(([st, n]) => `${n} ${st}`)
        .join(", ");
      put(
        notice,
        message(
          `Recovered ${done.recovered.total} execution(s)${by ? ` (${by})` : ""} from workers silent ${done.silent_seconds} s.`,
        ),
      );
      await load();
    } catch (error) {
      put(notice, message(error.message, "error"));
    }
  });
  let first = true;
  stream("/events/stream", {
    signal,
    onOpen: () => {
      if (!first) soon();
      first = false;
    }, // after a reconnection, transitions may have been missed
    onEvent: (ev) => {
      if (ev.event === "transition") soon();
    },
  });
  await load();
}
