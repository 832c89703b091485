"""``triaged report`` and ``triaged postmortem``: read the store, write a file or stdout.

Both read the same store the daemon writes (a second reader is safe on both SQLite
and Redis). Every failure is one line naming what is wrong and an exit code: 2 for a
bad argument or input file, 1 when the store cannot answer or the incident is unknown.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from daemon.errors import StoreUnavailable
from daemon.settings import Settings, SqliteStoreSettings
from daemon.store import Store, build_store
from daemon.timeparse import parse_rfc3339
from daemon.units import parse_duration

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


class CommandError(Exception):
    """A one-line failure for the user; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def parse_when(value: str, now: float, option: str) -> float:
    """``7d``/``36h`` (that long before now), an RFC 3339 time, or a date (midnight UTC)."""
    text = value.strip()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        if len(text) == 10:  # 2026-11-01
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        parsed = parse_rfc3339(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(
            f"{option}: expected a duration before now (7d, 36h) or a time (2026-11-01, "
            f"2026-11-01T08:00:00Z), got {value!r}"
        )
    return parsed


async def _with_store(settings: Settings, fn: Callable[[Store], Awaitable[T]]) -> T:
    if isinstance(settings.store, SqliteStoreSettings) and not settings.store.path.exists():
        # Opening would create an empty database and report nothing, silently.
        raise CommandError(f"store: no database at {settings.store.path} (is the config the daemon's?)")
    store = build_store(settings.store)
    try:
        await store.open()
        return await fn(store)
    except StoreUnavailable as err:
        raise CommandError(f"store unavailable: {err}", EXIT_FAILED) from None
    finally:
        await store.close()


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise CommandError(f"--out: cannot write {out}: {err.strerror}", EXIT_FAILED) from None
    print(f"wrote {out}", file=sys.stderr)


async def report(
    settings: Settings,
    since: str,
    until: str | None,
    fmt: str,
    out: Path | None,
    servicenow: Path | None,
) -> int:
    """Build and write the KPI report of incidents opened in [since, until)."""
    from daemon.reports.collect import collect
    from daemon.reports.report import build_report, render_markdown
    from daemon.reports.servicenow import ExportError, read_export

    now = time.time()
    start = parse_when(since, now, "--since")
    end = now if until is None else parse_when(until, now, "--until")
    if end <= start:
        raise CommandError("--until must be later than --since")
    sn = None
    if servicenow is not None:
        try:
            sn = read_export(servicenow)
        except ExportError as err:
            raise CommandError(f"--servicenow: {err}") from None
    collected = await _with_store(settings, lambda store: collect(store, start, end))
    built = build_report(collected, now, sn)
    if fmt == "json":
        text = orjson.dumps(built.to_json(), option=orjson.OPT_INDENT_2).decode()
    elif fmt == "html":
        from daemon.reports.html import render_html

        text = render_html(built)
    else:
        text = render_markdown(built)
    _write(text, out)
    return EXIT_OK


async def postmortem(settings: Settings, incident_id: str, out: Path | None) -> int:
    """Write the post-incident draft of one incident."""
    from daemon.reports.postmortem import render_postmortem

    detail = await _with_store(settings, lambda store: store.get_incident(incident_id))
    if detail is None:
        raise CommandError(f"no incident {incident_id} in the store", EXIT_FAILED)
    _write(render_postmortem(detail, time.time()), out)
    return EXIT_OK


def run_sync(coro: Coroutine[Any, Any, int]) -> int:
    """Run a command; a ``CommandError`` becomes its one line on stderr and its exit code."""
    try:
        return asyncio.run(coro)
    except CommandError as err:
        print(f"triaged: {err}", file=sys.stderr)
        return err.code
