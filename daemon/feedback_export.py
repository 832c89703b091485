"""``triaged feedback-export``: people's urgency corrections as training rows for ``triaged train``.

Each alert of an incident whose urgency a person corrected becomes one row in the
alert-rule catalogue format (``data/alert-rules/``), labelled with the corrected
urgency, so the model learns from the operators' own history next to the public rules.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from classifiers.features import expr_from_generator_url
from daemon.settings import Settings
from daemon.store import build_store

MAX_INCIDENTS = 1_000_000


async def export(settings: Settings, out: Path) -> int:
    """Write the rows; prints how many; 0 on success."""
    store = build_store(settings.store)
    await store.open()
    rows: list[dict[str, Any]] = []
    try:
        for incident in await store.list_incidents(None, MAX_INCIDENTS):
            detail = await store.get_incident(incident.id)
            if detail is None:
                continue
            urgency = None
            for event in detail.timeline:  # the latest correction wins
                if event.kind == "feedback" and event.detail.get("urgency"):
                    urgency = event.detail["urgency"]
            if urgency is None:
                continue
            rows.extend(_row(alert, urgency, incident.id) for alert in detail.alerts)
    finally:
        await store.close()
    out.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))  # noqa: ASYNC240 - offline CLI
    print(f"{len(rows)} training rows from corrected incidents -> {out}", file=sys.stderr)
    return 0


def _row(alert: dict[str, Any], urgency: str, incident_id: str) -> dict[str, Any]:
    labels = dict(alert.get("labels") or {})
    annotations = alert.get("annotations") or {}
    return {
        "source": "triaged-feedback",
        "incident_id": incident_id,
        "alertname": labels.get("alertname", alert.get("alertname", "")),
        "expr": expr_from_generator_url(alert.get("generator_url")),
        "labels": {k: v for k, v in labels.items() if k != "severity"},
        "summary": annotations.get("summary", ""),
        "description": annotations.get("description", ""),
        "severity": urgency,
        "severity_norm": urgency,
    }
