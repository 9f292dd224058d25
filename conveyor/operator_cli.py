"""Operator commands over the HTTP API (`conveyor executions|workflows|events|actions|keys|recover …`), through
the Python client, printed as tables on a terminal or as the API's JSON with --json."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from conveyor.client import ApiError, AsyncClient
from conveyor.durations import parse_duration
from conveyor.http.resources import ExecutionAnswer
from conveyor.roles import ROLE_LABELS
from conveyor.statemachines import COMPLETED, OPERATOR_VERBS

_EXECUTION_COLUMNS = ("id", "workflow", "state", "current_node", "attempt", "created_at")
_WORKFLOW_COLUMNS = ("id", "name", "version", "active", "updated_at")
_ACTION_COLUMNS = ("key", "category", "provided", "conflict", "workers", "description")
_KEY_COLUMNS = ("id", "namespace", "role", "label", "created_at", "expires_at", "revoked_at")
_RECORD_COLUMNS = ("state", "current_node", "attempt", "pause_requested", "wake_at", "finished_at")
_HISTORY_COLUMNS = ("at", "from", "to", "event", "node", "attempt")
_STEP_COLUMNS = ("node", "visit", "attempt", "status", "started_at", "finished_at", "error")
_WIDEST_CELL = 60  # on a terminal; piped output keeps every character
_VERB_HELP = {
    "show": "one execution, with its history and steps",
    "cancel": "cancel one execution and its descendants",
    "retry": "run a failed execution again",
}


@dataclass(frozen=True, slots=True)
class Shown:
    """What a command prints: its JSON for --json, its text for people, and its exit status."""

    answer: Any
    text: str
    status: int = 0


Handler = Callable[[AsyncClient, argparse.Namespace], Awaitable[Shown]]


def add_commands(commands: Any) -> None:
    """Add the operator commands to the `conveyor` argument parser's subcommands."""
    verbs_named = ", ".join(OPERATOR_VERBS[:-1]) + f" or {OPERATOR_VERBS[-1]}"
    executions = commands.add_parser("executions", help=f"start, list, show, {verbs_named} executions")
    verbs = executions.add_subparsers(dest="verb", required=True)
    start = _with_json(verbs.add_parser("start", help="start an execution of a workflow (its id or name)"))
    start.add_argument("workflow")
    start.add_argument("--input", default="{}", help="the input: a JSON object, or @FILE to read one from a file")
    start.add_argument("--dedupe-key", help="start at most one execution with this key")
    start.add_argument("--wait", action="store_true", help="wait for it to end; exit 1 unless it completed")
    listing = _with_json(verbs.add_parser("list", help="executions, newest first"))
    for name, text in (
        ("workflow", "a workflow's id or name"),
        ("state", "one state, or several: a,b"),
        ("cursor", "the next page"),
    ):
        listing.add_argument(f"--{name}", help=text)
    listing.add_argument("--limit", type=int, help="at most this many (1-1000, default 100)")
    for verb in ("show", *OPERATOR_VERBS):
        parser = _with_json(verbs.add_parser(verb, help=_VERB_HELP.get(verb, f"{verb} one execution")))
        parser.add_argument("id")
        if verb == "retry":
            parser.add_argument("--from-node", help="run again from this node (a new visit)")
    workflows = commands.add_parser("workflows", help="list, show or push workflow definitions")
    verbs = workflows.add_subparsers(dest="verb", required=True)
    _with_json(verbs.add_parser("list", help="every workflow"))
    _with_json(verbs.add_parser("show", help="one workflow, by id or name")).add_argument("id")
    push = _with_json(verbs.add_parser("push", help="create a workflow from a JSON file, or add a version"))
    push.add_argument("file", type=Path)
    events = commands.add_parser("events", help="send events to the event triggers of their type")
    verbs = events.add_subparsers(dest="verb", required=True)
    send = _with_json(verbs.add_parser("send", help="send one event"))
    send.add_argument("type", help="the event's type, e.g. user.engaged")
    send.add_argument("--payload", default="{}", help="a JSON object, or @FILE to read one from a file")
    send.add_argument("--dedupe-key", help="an event trigger takes one event with this key")
    actions = commands.add_parser("actions", help="the catalog of actions the workers published")
    verbs = actions.add_subparsers(dest="verb", required=True)
    _with_json(verbs.add_parser("list", help="every action, with who provides it"))
    _with_json(verbs.add_parser("show", help="one action, with its schemas")).add_argument("key")
    _add_keys(commands)
    recover = _with_json(commands.add_parser("recover", help="release executions held by workers that are gone"))
    recover.add_argument("--worker", help="only what this worker held")
    recover.add_argument("--older-than", help='a lease lapsed at least this long ago, e.g. "5m"')


API_COMMANDS = ("executions", "workflows", "events", "actions", "keys", "recover")


def _add_keys(commands: Any) -> None:
    keys = commands.add_parser("keys", help="make, list or revoke API keys (needs an admin key)")
    verbs = keys.add_subparsers(dest="verb", required=True)
    create = _with_json(verbs.add_parser("create", help="make a key; it is printed once, and never again"))
    create.add_argument("--role", required=True, choices=ROLE_LABELS)
    create.add_argument("--namespace", help="the namespace it acts in (the caller's when not given)")
    create.add_argument("--label", help="what the key is for")
    create.add_argument("--expires", type=_expiry, help='when it stops working: a duration ("90d") or an ISO time')
    _with_json(verbs.add_parser("list", help="the namespace's keys (never the keys themselves)"))
    _with_json(verbs.add_parser("revoke", help="revoke a key by id")).add_argument("id")


def _expiry(text: str) -> str:
    """An expiry given as a duration from now or as an ISO 8601 time, as the API takes it."""
    try:
        return (datetime.now(UTC) + parse_duration(text)).isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a duration (90d) nor an ISO 8601 time") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _with_json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
    return parser


def run_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run an operator command; print the answer, or the API's error code and message; the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        shown = asyncio.run(_call(args))
    except ApiError as exc:
        field = f" (at {exc.field})" if exc.field else ""
        print(f"error: {exc.code}: {exc.message}{field}", file=err)
        return 1
    except (OSError, ValueError, TimeoutError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    text = json.dumps(_plain(shown.answer), indent=2) if args.json else shown.text
    try:
        print(text, file=out)
        out.flush()
    except BrokenPipeError:
        # The reader (`| head`) has gone: what it took is what it wanted. Point stdout at nothing, so that the
        # interpreter's own flush at exit finds no broken pipe either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return shown.status


async def _call(args: argparse.Namespace) -> Shown:
    async with AsyncClient() as client:
        return await _HANDLERS[(args.command, getattr(args, "verb", None))](client, args)


def _plain(answer: Any) -> Any:
    if isinstance(answer, BaseModel):
        return answer.model_dump(mode="json", by_alias=True)
    if isinstance(answer, list | tuple):
        return [_plain(a) for a in answer]
    if isinstance(answer, dict):
        return {k: _plain(v) for k, v in answer.items()}
    return answer


def json_argument(raw: str, what: str) -> Any:
    """A JSON object given on the command line, or read from @FILE."""
    text = Path(raw[1:]).read_text(encoding="utf-8") if raw.startswith("@") else raw
    try:
        found = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise ValueError(f"{what} must be a JSON object")
    return found


async def _start(client: AsyncClient, args: argparse.Namespace) -> Shown:
    given = json_argument(args.input, "--input")
    execution = await client.start(args.workflow, given, dedupe_key=args.dedupe_key)
    if not args.wait:
        return Shown(execution, await _execution_text(client, execution))
    shown = await _detailed(client, await client.wait(execution.id))
    return Shown(shown.answer, shown.text, 0 if shown.answer["state"] == COMPLETED else 1)


async def _list_executions(client: AsyncClient, args: argparse.Namespace) -> Shown:
    page = await client.list_executions(workflow=args.workflow, state=args.state, limit=args.limit, cursor=args.cursor)
    names = await _workflow_names(client)
    rows = [{**_plain(e), "workflow": names.get(str(e.workflow_id), str(e.workflow_id))} for e in page.items]
    more = f"\n(more: --cursor {page.next_cursor})" if page.next_cursor else ""
    return Shown(page, table(_EXECUTION_COLUMNS, rows) + more)


async def _show_execution(client: AsyncClient, args: argparse.Namespace) -> Shown:
    return await _detailed(client, await client.get(args.id))


async def _detailed(client: AsyncClient, execution: ExecutionAnswer) -> Shown:
    """The execution with its history and steps: as JSON, and as text with a table of each."""
    history = [_plain(h) for h in await client.history(execution.id)]
    steps = [_plain(s) for s in await client.steps(execution.id)]
    text = await _execution_text(client, execution)
    text += "\n\nHISTORY\n" + table(_HISTORY_COLUMNS, history) + "\n\nSTEPS\n" + table(_STEP_COLUMNS, steps)
    return Shown({**_plain(execution), "history": history, "steps": steps}, text)


async def _execution_text(client: AsyncClient, execution: ExecutionAnswer) -> str:
    names = await _workflow_names(client)
    head = {"id": str(execution.id), "workflow": names.get(str(execution.workflow_id), str(execution.workflow_id))}
    parts = [table(("id", "workflow"), [_plain(head)]), table(_RECORD_COLUMNS, [_plain(execution)])]
    for name in ("input", "output", "error"):
        value = getattr(execution, name)
        if value not in (None, {}):
            parts.append(f"{name}: {json.dumps(value)}")
    if execution.waiting is not None:
        parts.append(f"waiting: {execution.waiting.text}")
    return "\n\n".join(parts)


async def _operate(client: AsyncClient, args: argparse.Namespace) -> Shown:
    if args.verb == "retry":
        execution = await client.retry(args.id, from_node=args.from_node)
    else:
        execution = await getattr(client, args.verb)(args.id)
    return Shown(execution, await _execution_text(client, execution))


async def _workflow_names(client: AsyncClient) -> dict[str, str]:
    return {str(w.id): w.name for w in await client.list_workflows()}


async def _list_workflows(client: AsyncClient, args: argparse.Namespace) -> Shown:
    found = await client.list_workflows()
    return Shown({"items": found, "next_cursor": None}, table(_WORKFLOW_COLUMNS, [_plain(w) for w in found]))


async def _show_workflow(client: AsyncClient, args: argparse.Namespace) -> Shown:
    found = await client.get_workflow(args.id)
    return Shown(found, table(_WORKFLOW_COLUMNS, [_plain(found)]))


async def _push_workflow(client: AsyncClient, args: argparse.Namespace) -> Shown:
    saved = await client.push_workflow(json_argument("@" + str(args.file), str(args.file)))
    warnings = "".join(f"\nwarning: {w.code} at {w.field}: {w.message}" for w in saved.warnings)
    return Shown(saved, table(_WORKFLOW_COLUMNS, [_plain(saved)]) + warnings)


async def _send_event(client: AsyncClient, args: argparse.Namespace) -> Shown:
    ids = await client.send_event(args.type, json_argument(args.payload, "--payload"), dedupe_key=args.dedupe_key)
    rows = f"{len(ids)} inbox row(s) for its event triggers" + (f" ({', '.join(map(str, ids))})" if ids else "")
    return Shown({"ids": ids}, f"sent {args.type}: {rows}; waits and cancel_on rules see it whatever the triggers")


async def _list_actions(client: AsyncClient, args: argparse.Namespace) -> Shown:
    answer = await client.request("GET", "/actions", params={"limit": "1000"})
    return Shown(answer, table(_ACTION_COLUMNS, [_action_row(a) for a in answer.get("items", [])]))


async def _show_action(client: AsyncClient, args: argparse.Namespace) -> Shown:
    answer = await client.request("GET", f"/actions/{args.key}")
    return Shown(answer, table(_ACTION_COLUMNS, [_action_row(answer)]))


async def _recover(client: AsyncClient, args: argparse.Namespace) -> Shown:
    body = {k: v for k, v in (("worker", args.worker), ("older_than", args.older_than)) if v is not None}
    answer = await client.request("POST", "/recovery/recover", body=body)
    return Shown(answer, "\n".join(f"{key}: {json.dumps(value)}" for key, value in answer.items()))


async def _create_key(client: AsyncClient, args: argparse.Namespace) -> Shown:
    fields = {"role": args.role, "namespace": args.namespace, "label": args.label, "expires_at": args.expires}
    answer = await client.request("POST", "/keys", body={k: v for k, v in fields.items() if v is not None})
    shown = f"{answer['key']}\n(shown this once: conveyor keeps only its hash)\n\n" + table(_KEY_COLUMNS, [answer])
    return Shown(answer, shown)


async def _list_keys(client: AsyncClient, args: argparse.Namespace) -> Shown:
    answer = await client.request("GET", "/keys", params={"limit": "1000"})
    return Shown(answer, table(_KEY_COLUMNS, answer.get("items", [])))


async def _revoke_key(client: AsyncClient, args: argparse.Namespace) -> Shown:
    answer = await client.request("DELETE", f"/keys/{args.id}")
    return Shown(answer, table(_KEY_COLUMNS, [answer]))


_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("executions", "start"): _start,
    ("executions", "list"): _list_executions,
    ("executions", "show"): _show_execution,
    **{("executions", verb): _operate for verb in OPERATOR_VERBS},
    ("workflows", "list"): _list_workflows,
    ("workflows", "show"): _show_workflow,
    ("workflows", "push"): _push_workflow,
    ("events", "send"): _send_event,
    ("actions", "list"): _list_actions,
    ("actions", "show"): _show_action,
    ("keys", "create"): _create_key,
    ("keys", "list"): _list_keys,
    ("keys", "revoke"): _revoke_key,
    ("recover", None): _recover,
}


def _action_row(entry: Any) -> dict[str, Any]:
    workers = sorted({w for v in entry.get("versions", []) for w in v.get("workers", [])})
    return {**entry, "workers": ", ".join(workers) or "none live"}


def table(columns: Sequence[str], rows: Sequence[Any], *, terminal: bool | None = None) -> str:
    """Rows as aligned text columns under a header; nested values as compact JSON, times to the second, and on
    a terminal long cells cut to fit."""
    terminal = sys.stdout.isatty() if terminal is None else terminal
    cells = [[_cell(row.get(c), terminal) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any, terminal: bool) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if isinstance(value, str) and len(text) >= 26 and text[10:11] == "T" and text[4:5] == "-":
        text = text[:19].replace("T", " ")  # an ISO time, to the second
    if terminal and len(text) > _WIDEST_CELL:
        text = text[: _WIDEST_CELL - 1] + "…"
    return text
