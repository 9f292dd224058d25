// Talking to the API: JSON calls and live streams, with the bearer token the tab keeps.

const TOKEN_KEY = "conveyor.token";
let asking = null;

/** An error answer of the API: its status, code and message. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.details = error.details || {};
  }
}

function headers(extra) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

// Asked once per tab: concurrent 401s wait for the same answer.
function askToken() {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = document.getElementById("token-dialog");
      const input = document.getElementById("token-input");
      dialog.addEventListener(
        "close",
        () => {
          sessionStorage.setItem(TOKEN_KEY, input.value.trim());
          input.value = "";
          asking = null;
          resolve();
        },
        { once: true },
      );
      dialog.showModal();
      input.focus();
    });
  }
  return asking;
}

/** Call the API; a 401 asks for the token and tries again; an error answer throws ApiError. */
export async function api(path, { method = "GET", body } = {}) {
  for (;;) {
    const init = { method, headers: headers({ Accept: "application/json" }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      await askToken();
      continue;
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, (data && data.error) || {});
    return data;
  }
}

function setLive(text) {
  const el = document.getElementById("live");
  if (el) {
    el.textContent = text;
    el.dataset.live = text;
  }
}

function parseEvent(block) {
  const event = { event: "message", data: "", id: null };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "data") event.data += value;
    else if (name === "event") event.event = value;
    else if (name === "id") event.id = Number(value);
  }
  return event.data ? { ...event, data: JSON.parse(event.data) } : null;
}

// Hand each event of one connection's body to onEvent, in order, until the server ends it.
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) onEvent(event);
    }
  }
}

/**
 * Follow a Server-Sent Events route (read with fetch, since EventSource cannot send the token).
 * Calls onEvent({event, data, id}) per event and onOpen() at each (re)connection; reconnects after a
 * dropped connection (resuming after the last id seen); stops when `signal` aborts, or when the server
 * ends the stream and `follow` is false.
 */
export async function stream(path, { onEvent, onOpen = () => {}, signal, follow = true }) {
  let lastId = null;
  let pause = 500;
  while (!signal.aborted) {
    try {
      const extra = { Accept: "text/event-stream" };
      if (lastId !== null) extra["Last-Event-ID"] = String(lastId);
      const response = await fetch(path, { headers: headers(extra), signal });
      if (response.status === 401) {
        await askToken();
        continue;
      }
      if (!response.ok) throw new ApiError(response.status, {});
      setLive("live");
      pause = 500;
      onOpen();
      await readEvents(response, (event) => {
        if (event.id !== null) lastId = event.id;
        onEvent(event);
      });
      if (!follow) return;
    } catch (error) {
      if (signal.aborted) return;
      console.warn("stream dropped", path, error);
    }
    setLive("reconnecting");
    // A wait between reconnections, doubling to 30 s while the API is away; not a polling loop.
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 30000);
  }
}

let machine = null;

/** The execution state machine as the API describes it (GET /state-machine), read once. */
export async function stateMachine() {
  if (!machine) {
    const chart = await api("/state-machine");
    const allowed = new Map(chart.states.map((state) => [state, new Set()]));
    for (const t of chart.transitions) allowed.get(t.from).add(t.event);
    machine = { ...chart, allows: (state, event) => Boolean(allowed.get(state)?.has(event)) };
  }
  return machine;
}

let who = null;

/** Who this tab is signed in as (GET /session): actor, namespace, role and the operations it may call; read once. */
export async function session() {
  if (!who) {
    const answer = await api("/session");
    who = { ...answer, may: new Set(answer.may) };
  }
  return who;
}

/** Whether the signed-in role may call an operation (its operationId in /openapi.json); false before sign-in. */
export function allowed(operationId) {
  return Boolean(who?.may.has(operationId));
}
