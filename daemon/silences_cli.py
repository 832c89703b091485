"""``triaged silences ls|add|expire``: the silences API from a terminal, like amtool.

It talks HTTP to a running daemon (``--url``, default: the config's ``listen``), so a
silence made here reaches every replica exactly as one made through the API does.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from daemon.cli_http import CommandFailed, base_url, call, http_url
from daemon.settings import Settings

EXIT_OK, EXIT_FAILED = 0, 1


def add_parser(sub: Any) -> None:
    """Register ``silences`` and its actions on the main parser."""
    from pathlib import Path

    silences = sub.add_parser("silences", help="list, add and expire silences on a running daemon")
    actions = silences.add_subparsers(dest="silences_command", required=True, metavar="ACTION")
    ls = actions.add_parser("ls", help="silences and maintenance windows")
    ls.add_argument("--state", choices=("active", "pending", "expired"))
    ls.add_argument("--json", action="store_true")
    add = actions.add_parser("add", help="add one: triaged silences add 'alertname=\"X\"' --duration 2h")
    add.add_argument("matchers", nargs="+", help='Alertmanager matchers, e.g. cluster=~"prod-.*"')
    add.add_argument("--duration", default="1h", help="how long (30m, 2h, 1d); default 1h")
    add.add_argument("--comment", default="")
    add.add_argument("--author", default=None, help="default: $USER")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    for action in actions.choices.values():
        action.add_argument(
            "--url", type=http_url, help="the daemon's base URL (default: http://<listen> of the config)"
        )
        action.add_argument("--config", type=Path, help="the daemon's config")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one action; HTTP and API errors are one line on stderr, exit code 1."""
    import os

    base = base_url(args.url, settings)
    try:
        if args.silences_command == "ls":
            query = f"?state={args.state}" if args.state else ""
            body = call("GET", f"{base}/api/v1/silences{query}")
            if args.json:
                print(json.dumps(body, indent=2))
            else:
                _table(body["silences"])
        elif args.silences_command == "add":
            req = {
                "matchers": args.matchers,
                "duration": args.duration,
                "comment": args.comment,
                "created_by": args.author or os.environ.get("USER", "cli"),
            }
            created = call("POST", f"{base}/api/v1/silences", req)
            print(f"{created['id']} active until {created['ends_at']}")
        else:
            expired = call("DELETE", f"{base}/api/v1/silences/{args.id}")
            print(f"{expired['id']} {expired['state']}")
    except CommandFailed as err:
        print(f"triaged silences {args.silences_command}: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _table(silences: list[dict[str, Any]]) -> None:
    if not silences:
        print("no silences")
        return
    print(f"{'ID':32} {'STATE':8} {'ENDS':21} {'BY':10} MATCHERS")
    for s in silences:
        ends = s.get("ends_at") or ("recurring" if s.get("weekly") else "-")
        print(f"{s['id']:32} {s['state']:8} {ends:21} {s['created_by'][:10]:10} {' '.join(s['matchers'])}")
