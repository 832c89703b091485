"""The command line: ``serve``, ``check-config``, ``replay``. Errors are one clear line, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import structlog

from daemon import incidents_cli, silences_cli
from daemon.cli_http import http_url, seconds
from daemon.config_loader import load_settings
from daemon.errors import ConfigError, StoreUnavailable
from daemon.logs import configure_logging
from daemon.settings import Settings, parse_listen

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kept separate so the docs and tests can read it)."""
    parser = argparse.ArgumentParser(prog="triaged", description="Alert ingestion and auto-triage daemon.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the daemon")
    serve.add_argument("--config", type=Path, help="YAML config (default: built-in defaults)")
    serve.add_argument("--listen", help="HOST:PORT, overrides the config's listen")
    health = sub.add_parser("health", help="exit 0 when this machine's daemon answers /healthz (HEALTHCHECK)")
    health.add_argument("--config", type=Path, help="the daemon's config (its listen address and TLS)")
    health.add_argument(
        "--url", type=http_url, help="the daemon's base URL (default: from the config's listen and tls)"
    )
    health.add_argument("--timeout", type=seconds, default=2.0, help="seconds to wait for the answer")
    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file", type=Path)
    replay = sub.add_parser(
        "replay", help="feed saved webhook bodies through the pipeline offline; print incidents"
    )
    replay.add_argument("files", type=Path, nargs="+", metavar="FILE")
    replay.add_argument("--config", type=Path, help="YAML config whose rules to apply")
    replay.add_argument("--source", default="alertmanager", help="sender format of the files")
    replay.add_argument("--format", choices=("table", "json"), default="table")
    fbx = sub.add_parser("feedback-export", help="write people's urgency corrections as training rows")
    fbx.add_argument("--config", type=Path, help="the daemon's config (which store to read)")
    fbx.add_argument("--out", type=Path, required=True, help="JSONL file for `triaged train --data`")
    explain = sub.add_parser("explain", help="show the priority an alert would get, and why")
    explain.add_argument("file", type=Path, help="an Alertmanager webhook body or one alert")
    explain.add_argument("--config", type=Path, help="YAML config whose triage settings to apply")
    explain.add_argument("--json", action="store_true")
    report = sub.add_parser(
        "report", help="incident KPIs over a time range (MTTA, MTTR, ...; docs/reports.md)"
    )
    report.add_argument("--since", required=True, help="7d, 36h (before now), or a time: 2026-11-01")
    report.add_argument("--until", help="same forms as --since (default: now)")
    report.add_argument("--config", type=Path, help="the daemon's config (which store to read)")
    report.add_argument("--format", choices=("md", "html", "json"), default="md")
    report.add_argument("--out", type=Path, help="write here instead of stdout")
    report.add_argument(
        "--servicenow", type=Path, metavar="CSV", help="a ServiceNow incident export to compare"
    )
    pm = sub.add_parser("postmortem", help="write a Markdown post-incident draft for one incident")
    pm.add_argument("incident_id", metavar="INCIDENT_ID")
    pm.add_argument("--config", type=Path, help="the daemon's config (which store to read)")
    pm.add_argument("--out", type=Path, help="write here instead of stdout")
    silences_cli.add_parser(sub)
    incidents_cli.add_parser(sub)
    model = sub.add_parser("model", help="list, promote and roll back urgency models (the registry)")
    model_sub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    ls = model_sub.add_parser("ls", help="stored versions; the active one is marked")
    ls.add_argument("--json", action="store_true")
    promote = model_sub.add_parser("promote", help="make a version (or a `triaged train` dir) active")
    promote.add_argument("version", help="a version from `triaged model ls`, or a model directory")
    model_sub.add_parser("rollback", help="re-activate the model active before the current one")
    for action in model_sub.choices.values():
        action.add_argument("--config", type=Path, help="the daemon's config (where its registry is)")
    for name, text in (
        ("train", "train an urgency model from alert-rule catalogues (see `triaged train --help`)"),
        ("evaluate", "evaluate a model: macro-F1, per class, baselines (`triaged evaluate --help`)"),
        ("train-router", "train the learned team router (ServiceNow export or JSONL rows)"),
        ("evaluate-router", "evaluate the team router on a time split, against baselines"),
    ):
        cmd = sub.add_parser(name, help=text, add_help=False)
        cmd.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def run(argv: list[str]) -> int:
    """Run one command; returns the process exit code."""
    if argv and argv[0] in ("train", "evaluate", "train-router", "evaluate-router"):
        # Their own parsers own every argument (argparse's REMAINDER would swallow none of
        # the leading options).
        return _offline(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args.config, args.listen)
        simple = _SIMPLE.get(args.command)
        if simple is not None:
            return simple(args)
        if args.command == "feedback-export":
            from daemon.feedback_export import export

            return asyncio.run(export(_settings(args.config), args.out))
        if args.command == "incidents":
            return incidents_cli.run(args, _settings(args.config))
        if args.command == "silences":
            return silences_cli.run(args, _settings(args.config))
        if args.command == "model":
            from daemon.model_cli import run_model_command

            return run_model_command(args, _settings(args.config))
        if args.command in ("report", "postmortem"):
            from daemon.reports import commands

            settings = _settings(args.config)
            configure_logging("warning", "json")
            if args.command == "report":
                return commands.run_sync(
                    commands.report(settings, args.since, args.until, args.format, args.out, args.servicenow)
                )
            return commands.run_sync(commands.postmortem(settings, args.incident_id, args.out))
        if args.command == "explain":
            from daemon.explain import explain as run_explain

            configure_logging("warning", "json")
            return run_explain(_settings(args.config), args.file, args.json)
        from daemon.replay import replay

        settings = _settings(args.config)
        configure_logging("warning", settings.logging.format)
        return asyncio.run(replay(settings, args.files, args.source, args.format))
    except ConfigError as err:
        print("triaged: invalid configuration:", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE


def _offline(command: str, argv: list[str]) -> int:
    """The classifier's offline tools, which never run inside the daemon."""
    if command in ("train-router", "evaluate-router"):
        from classifiers.team_router import main as router_main

        return router_main(argv, train=command == "train-router")
    if command == "train":
        from classifiers.train import main as train_main

        return train_main(argv)
    from classifiers.evaluate import main as evaluate_main

    return evaluate_main(argv)


def _settings(path: Path | None) -> Settings:
    if path is None and os.environ.get("TRIAGED_CONFIG"):
        path = Path(os.environ["TRIAGED_CONFIG"])
    return load_settings(path, os.environ)


def _health(args: argparse.Namespace) -> int:
    from daemon.health_cli import probe

    return probe(_settings(args.config), args.url, args.timeout)


def _check_config(path: Path) -> int:
    from daemon.tls import preflight

    settings = _settings(path)
    preflight(settings)  # ConfigError: exit 2 with every problem, as for the schema
    print(f"{path}: OK (store {settings.store.kind}, listen {settings.listen})")
    if not settings.connectors:
        return EXIT_OK
    problems = asyncio.run(_connector_checks(settings))
    for name, problem in problems.items():
        kind = settings.connectors[name].kind
        print(f"connector {name} ({kind}): {'OK' if problem is None else problem}")
    return EXIT_FAILED if any(p is not None for p in problems.values()) else EXIT_OK


async def _connector_checks(settings: Settings) -> dict[str, str | None]:
    """Each tracker's healthcheck: credentials and permissions of the real write path."""
    from daemon.deliveries import build_connectors, healthchecks
    from daemon.outbound_sessions import OutboundSessions
    from daemon.tls import target_policy

    sessions = OutboundSessions(target_policy(settings))
    try:
        return await healthchecks(build_connectors(settings, sessions))
    finally:
        await sessions.close()


def _serve(config: Path | None, listen: str | None) -> int:
    settings = _settings(config)
    if listen is not None:
        try:
            parse_listen(listen)
        except ValueError as err:
            raise ConfigError([f"--listen: {err}"]) from None
        settings = settings.model_copy(update={"listen": listen})
    from aiohttp import web

    from daemon.app import create_app  # the pipeline and the model: only `serve` needs them
    from daemon.tls import preflight

    ssl_context = preflight(settings)  # before logging starts: a refusal is one plain line
    configure_logging(settings.logging.level, settings.logging.format)
    host, port = parse_listen(settings.listen)
    log = structlog.get_logger("triaged")
    log.info("starting", listen=settings.listen, store=settings.store.kind, tls=ssl_context is not None)
    try:
        web.run_app(
            create_app(settings),
            host=host,
            port=port,
            shutdown_timeout=settings.pipeline.shutdown_timeout,
            ssl_context=ssl_context,
            print=lambda *_: log.info("listening", listen=f"{host}:{port}"),
            access_log=None,
            loop=_new_loop(),
        )
    except OSError as err:
        log.error("cannot_listen", listen=settings.listen, error=err.strerror)
        return EXIT_FAILED
    except StoreUnavailable as err:
        # A read-only or unreadable database file at start: say so in one line.
        log.error("cannot_open_store", store=settings.store.kind, error=str(err))
        print(f"triaged: cannot open the store: {err}", file=sys.stderr)
        return EXIT_FAILED
    log.info("stopped")
    return EXIT_OK


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed: a third less CPU per request than the default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


# Commands that only read their config: one line each in ``run``.
_SIMPLE: dict[str, Callable[[argparse.Namespace], int]] = {
    "check-config": lambda args: _check_config(args.file),
    "health": _health,
}
