"""Operator commands over the HTTP API: `conveyor executions|workflows|keys|recover …`, as tables or --json."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from conveyor.client import ApiClient, ApiError
from conveyor.durations import parse_duration
from conveyor.roles import ROLE_LABELS
from conveyor.statemachines import OPERATOR_VERBS

_EXECUTION_COLUMNS = ("id", "workflow_id", "state", "current_node", "attempt", "created_at")
_WORKFLOW_COLUMNS = ("id", "name", "version", "active", "updated_at")
_ACTION_COLUMNS = ("key", "category", "provided", "conflict", "workers", "description")
_KEY_COLUMNS = ("id", "namespace", "role", "label", "created_at", "expires_at", "revoked_at")
_RECORD_COLUMNS = ("state", "current_node", "attempt", "pause_requested", "wake_at", "error", "finished_at")


def add_commands(commands: Any) -> None:
    """Add the operator commands to the `conveyor` argument parser's subcommands."""
    verbs_named = ", ".join(OPERATOR_VERBS[:-1]) + f" or {OPERATOR_VERBS[-1]}"
    executions = commands.add_parser("executions", help=f"list, show, {verbs_named} executions")
    verbs = executions.add_subparsers(dest="verb", required=True)
    listing = _with_json(verbs.add_parser("list", help="executions, newest first"))
    for name in ("workflow", "state", "cursor"):
        listing.add_argument(f"--{name}")
    listing.add_argument("--limit", type=int)
    for verb in ("show", *OPERATOR_VERBS):
        parser = _with_json(verbs.add_parser(verb, help=f"{verb} one execution"))
        parser.add_argument("id")
        if verb == "retry":
            parser.add_argument("--from-node", help="run again from this node (a new visit)")
    workflows = commands.add_parser("workflows", help="list, show or push workflow definitions")
    verbs = workflows.add_subparsers(dest="verb", required=True)
    _with_json(verbs.add_parser("list", help="every workflow"))
    _with_json(verbs.add_parser("show", help="one workflow, by id or name")).add_argument("id")
    push = _with_json(verbs.add_parser("push", help="create a workflow from a JSON file, or add a version"))
    push.add_argument("file", type=Path)
    actions = commands.add_parser("actions", help="the catalog of actions the workers published")
    verbs = actions.add_subparsers(dest="verb", required=True)
    _with_json(verbs.add_parser("list", help="every action, with who provides it"))
    _with_json(verbs.add_parser("show", help="one action, with its schemas")).add_argument("key")
    _add_keys(commands)
    recover = _with_json(commands.add_parser("recover", help="release executions held by workers that are gone"))
    recover.add_argument("--worker")
    recover.add_argument("--older-than", help='a lease lapsed at least this long ago, e.g. "5m"')


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
        answer = asyncio.run(_call(ApiClient(), args))
    except ApiError as exc:
        print(f"error: {exc.code}: {exc.message}", file=err)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2), file=out)
    else:
        print(_render(args, answer), file=out)
    return 0


async def _call(client: ApiClient, args: argparse.Namespace) -> Any:
    if args.command == "keys":
        return await _keys(client, args)
    if args.command == "recover":
        body = {k: v for k, v in (("worker", args.worker), ("older_than", args.older_than)) if v is not None}
        return await client.request("POST", "/recovery/recover", body=body)
    if args.command == "actions":
        path = "/actions?limit=1000" if args.verb == "list" else f"/actions/{args.key}"
        return await client.request("GET", path)
    if args.command == "workflows":
        if args.verb == "list":
            return await client.request("GET", "/workflows")
        if args.verb == "show":
            return await client.request("GET", f"/workflows/{args.id}")
        return await _push(client, json.loads(args.file.read_text()))
    if args.verb == "list":
        names = ("workflow", "state", "cursor", "limit")
        params = {n: str(getattr(args, n)) for n in names if getattr(args, n) is not None}
        return await client.request("GET", "/executions", params=params)
    if args.verb == "show":
        return await client.request("GET", f"/executions/{args.id}")
    retry_from = {"from_node": args.from_node} if args.verb == "retry" and args.from_node else None
    return await client.request("POST", f"/executions/{args.id}/{args.verb}", body=retry_from)


async def _keys(client: ApiClient, args: argparse.Namespace) -> Any:
    if args.verb == "list":
        return await client.request("GET", "/keys", params={"limit": "1000"})
    if args.verb == "revoke":
        return await client.request("DELETE", f"/keys/{args.id}")
    fields = {"role": args.role, "namespace": args.namespace, "label": args.label, "expires_at": args.expires}
    return await client.request("POST", "/keys", body={k: v for k, v in fields.items() if v is not None})


async def _push(client: ApiClient, definition: Any) -> Any:
    """Create the workflow the definition names, or store the definition as its new version."""
    name = definition.get("name") if isinstance(definition, dict) else None
    if not isinstance(name, str) or not name:
        raise ValueError("the definition has no name")
    try:
        existing = await client.request("GET", f"/workflows/{name}")
    except ApiError as exc:
        if exc.status != 404:
            raise
        return await client.request("POST", "/workflows", body=definition)
    return await client.request("PUT", f"/workflows/{existing['id']}", body=definition)


def _render(args: argparse.Namespace, answer: Any) -> str:
    if args.command == "keys":
        if args.verb == "create":
            return f"{answer['key']}\n(shown this once: conveyor keeps only its hash)\n\n" + table(
                _KEY_COLUMNS, [answer]
            )
        return table(_KEY_COLUMNS, answer.get("items", [answer]))
    if args.command == "actions":
        return table(_ACTION_COLUMNS, [_action_row(a) for a in answer.get("items", [answer])])
    if args.command == "workflows":
        if args.verb == "list":
            return table(_WORKFLOW_COLUMNS, answer.get("items", []))
        return table(_WORKFLOW_COLUMNS, [answer])
    if args.command == "recover":
        return "\n".join(f"{key}: {json.dumps(value)}" for key, value in answer.items())
    if args.verb == "list":
        return table(_EXECUTION_COLUMNS, answer.get("items", [])) + _more(answer)
    shown = table(("id", "workflow_id"), [answer]) + "\n\n" + table(_RECORD_COLUMNS, [answer])
    waiting = answer.get("waiting")
    return shown + (f"\n\nwaiting: {waiting['text']}" if waiting else "")


def _action_row(entry: Any) -> dict[str, Any]:
    workers = sorted({w for v in entry.get("versions", []) for w in v.get("workers", [])})
    return {**entry, "workers": ", ".join(workers) or "none live"}


def _more(answer: Any) -> str:
    cursor = answer.get("next_cursor")
    return f"\n(more: --cursor {cursor})" if cursor else ""


def table(columns: Sequence[str], rows: Sequence[Any]) -> str:
    """Rows as aligned text columns under a header; nested values as compact JSON."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
