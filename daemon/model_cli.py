"""``triaged model ls|promote|rollback``: the registry from the command line.

Promotion is checked before it happens (the model must pass every load check), so a
bad file never becomes the active model; running daemons pick up the change within
``triage.registry_poll``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from classifiers.errors import ModelError
from classifiers.registry import ModelRegistry
from daemon.settings import Settings

EXIT_OK, EXIT_FAILED = 0, 1


def run_model_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run one registry action; errors are one line on stderr and exit code 1."""
    registry = ModelRegistry(settings.triage.registry)
    actor = os.environ.get("USER", "cli")
    try:
        if args.model_command == "ls":
            return _ls(registry, settings, args.json)
        if args.model_command == "promote":
            version = registry.promote(args.version, actor)
            print(f"active model: {version} ({registry.root})")
        else:
            version = registry.rollback(actor)
            print(f"rolled back; active model: {version} ({registry.root})")
    except ModelError as err:
        print(f"triaged model {args.model_command}: {err}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as err:
        print(f"triaged model {args.model_command}: {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_FAILED
    if settings.triage.model != "registry":
        print(
            f"note: triage.model is {settings.triage.model!r}, so the daemon does not follow the "
            "registry; set it to 'registry'",
            file=sys.stderr,
        )
    else:
        print(f"running daemons switch within {settings.triage.registry_poll:g}s")
    return EXIT_OK


def _ls(registry: ModelRegistry, settings: Settings, as_json: bool) -> int:
    entries = registry.entries()
    if as_json:
        state = registry.state()
        body = {
            "registry": str(registry.root),
            "active": state.get("active"),
            "previous": state.get("previous", []),
            "versions": [e.to_json() for e in entries],
        }
        print(json.dumps(body, indent=2))
        return EXIT_OK
    if not entries:
        print(f"no models in {registry.root}; the daemon uses the bundled model")
        return EXIT_OK
    print(f"{'':2}{'VERSION':14}{'CREATED':27}MACRO-F1 (grouped CV)")
    for e in entries:
        f1 = "-" if e.macro_f1 is None else f"{e.macro_f1:.3f}"
        print(f"{'*' if e.active else ' ':2}{e.version:14}{e.created:27}{f1}")
    return EXIT_OK
