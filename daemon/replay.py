"""``triaged replay``: what would these saved webhooks make of incidents under this config?"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import orjson

from daemon.errors import PayloadError
from daemon.metrics import build_metrics
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.sources import SOURCES
from daemon.store.base import IncidentDetail
from daemon.store.sqlite import SqliteStore


async def replay(settings: Settings, files: list[Path], source: str, fmt: str) -> int:
    """Run ``files`` through the real pipeline on a throwaway store; print the incidents."""
    parser = SOURCES.get(source)
    if parser is None:
        print(f"triaged: unknown source {source!r}; known: {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="triaged-replay-") as tmp:
        store = SqliteStore(Path(tmp) / "replay.db", synchronous="normal")
        await store.open()
        try:
            pipeline = Pipeline(store, settings, build_metrics())
            base = time.time()
            for i, path in enumerate(files):
                try:
                    payload = orjson.loads(path.read_bytes())
                    result = parser(payload, base + i * 0.001)
                except (OSError, orjson.JSONDecodeError, PayloadError) as err:
                    print(f"triaged: {path}: {_reason(err)}", file=sys.stderr)
                    failed += 1
                    continue
                for r in result.rejected:
                    print(f"triaged: {path}: {r.where}: {r.message}", file=sys.stderr)
                if result.notification.alerts:
                    await store.append(result.notification)
                    await pipeline.drain(60.0)
            details = []
            for incident in reversed(await store.list_incidents(None, 100_000)):
                detail = await store.get_incident(incident.id)
                if detail is not None:
                    details.append(detail)
        finally:
            await store.close()
    _print(details, fmt)
    return 1 if failed else 0


def _reason(err: Exception) -> str:
    if isinstance(err, OSError):
        return f"cannot read: {err.strerror}"
    if isinstance(err, orjson.JSONDecodeError):
        return f"not valid JSON: {err}"
    return str(err)


def _print(details: list[IncidentDetail], fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(
            orjson.dumps([d.to_json() for d in details], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return
    print(f"{len(details)} incident(s)")
    for d in details:
        i = d.incident
        trunc = f", {i.truncated_alerts} truncated by sender" if i.truncated_alerts else ""
        print(f"\n{i.priority}  {i.status.value:<12} {i.title}")
        print(f"    id {i.id}  group {i.group_key}")
        print(f"    alerts: {i.firing_count} firing / {i.alert_count} total{trunc}")
        for a in d.alerts:
            print(f"      - {a['fingerprint']} {a['alertname']:<24} {a['status']:<9} x{a['count']}")
        print(f"    why {i.priority}: {'; '.join(i.reasons)}")
