"""``triaged incidents ls|show|ack|resolve|reopen|note|priority|assign`` against a running daemon.

Through the HTTP API (``--url``, default the config's ``listen``), so every action is
the same one the API takes: timeline entry with actor and time, trackers told.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from daemon.cli_http import CommandFailed, base_url, call, http_url
from daemon.models import PRIORITIES
from daemon.settings import Settings

EXIT_OK, EXIT_FAILED = 0, 1
ACTIONS = ("ack", "resolve", "reopen", "note", "priority", "assign")


def add_parser(sub: Any) -> None:
    """Register ``incidents`` and its actions."""
    incidents = sub.add_parser("incidents", help="list, show and act on incidents of a running daemon")
    actions = incidents.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")
    ls = actions.add_parser("ls", help="incidents, newest first")
    ls.add_argument("--status", choices=("open", "acknowledged", "resolved"))
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one incident with its alerts and timeline")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    for name, text in (
        ("ack", "acknowledge (stops escalation)"),
        ("resolve", "resolve by hand"),
        ("reopen", "reopen a resolved incident"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id")
        action.add_argument("--note", default="")
    note = actions.add_parser("note", help="add a note (sent to the trackers)")
    note.add_argument("id")
    note.add_argument("text")
    prio = actions.add_parser("priority", help="set the priority (P1..P5)")
    prio.add_argument("id")
    prio.add_argument("priority", choices=PRIORITIES)
    prio.add_argument("--note", default="")
    assign = actions.add_parser("assign", help="reassign to a team and/or a person")
    assign.add_argument("id")
    assign.add_argument("--team")
    assign.add_argument("--assignee")
    assign.add_argument("--note", default="")
    for action in actions.choices.values():
        action.add_argument(
            "--url", type=http_url, help="the daemon's base URL (default: http://<listen> of the config)"
        )
        action.add_argument("--config", type=Path, help="the daemon's config")
        action.add_argument("--actor", default=None, help="who acts (default: $USER)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one action; errors are one line on stderr and exit code 1."""
    base = base_url(args.url, settings) + "/api/v1/incidents"
    actor = args.actor or os.environ.get("USER", "cli")
    cmd = args.incidents_command
    try:
        if cmd == "ls":
            query = f"?limit={args.limit}" + (f"&status={args.status}" if args.status else "")
            body = call("GET", base + query)
            _print(body, args.json, _table)
            return EXIT_OK
        if cmd == "show":
            _print(call("GET", f"{base}/{args.id}"), args.json, _detail)
            return EXIT_OK
        payload: dict[str, Any] = {"actor": actor}
        if cmd == "note":
            payload["note"] = args.text
        elif getattr(args, "note", ""):
            payload["note"] = args.note
        if cmd == "priority":
            payload["priority"] = args.priority
        if cmd == "assign":
            payload.update({k: v for k, v in (("team", args.team), ("assignee", args.assignee)) if v})
        route = {"ack": "ack"}.get(cmd, cmd)
        incident = call("POST", f"{base}/{args.id}/{route}", payload)
        team = incident.get("team") or ""
        print(f"{incident['id']} {incident['status']} {incident['priority']} {team}".rstrip())
    except CommandFailed as err:
        print(f"triaged incidents {cmd}: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _print(body: Any, as_json: bool, pretty: Any) -> None:
    if as_json:
        print(json.dumps(body, indent=2))
    else:
        pretty(body)


def _table(body: dict[str, Any]) -> None:
    rows = body["incidents"]
    if not rows:
        print("no incidents")
        return
    print(f"{'ID':32} {'PRIO':4} {'STATUS':12} {'ALERTS':>6} {'TEAM':12} TITLE")
    for i in rows:
        team = (i.get("team") or "-")[:12]
        print(f"{i['id']:32} {i['priority']:4} {i['status']:12} {i['alert_count']:6d} {team:12} {i['title']}")


def _detail(d: dict[str, Any]) -> None:
    print(f"{d['id']}  {d['priority']}  {d['status']}  team={d.get('team') or '-'}")
    print(d["title"])
    for reason in d.get("reasons", []):
        print(f"  why: {reason}")
    print(f"alerts ({d['alert_count']}):")
    for a in d.get("alerts", [])[:50]:
        print(f"  {a.get('status', ''):9} {a['labels'].get('alertname', '')} {a['fingerprint']}")
    timeline = d.get("timeline", [])
    total = d.get("timeline_total", len(timeline))
    print("timeline:" if total == len(timeline) else f"timeline (the latest {len(timeline)} of {total}):")
    for e in timeline:
        detail = e["detail"].get("reason") or e["detail"].get("note") or e["detail"].get("alertname") or ""
        print(f"  {e['at']}  {e['kind']:16} {e['actor']:12} {detail}")
