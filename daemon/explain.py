"""``triaged explain FILE``: the priority an alert would get, and every reason for it.

FILE is an Alertmanager webhook body (each alert is explained) or one alert object.
The config's triage section (model, rules, impact inputs) is applied exactly as the
daemon applies it to a new incident of one alert.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson

from classifiers.priority import Blast
from daemon.errors import PayloadError
from daemon.settings import Settings
from daemon.sources.alertmanager import parse
from daemon.stages.score import Scorer, load_urgency_model


def explain(settings: Settings, path: Path, as_json: bool) -> int:
    """Print the explanation; 1 with one clear line when the file is not usable."""
    try:
        payload: Any = orjson.loads(path.read_bytes())
        if isinstance(payload, dict) and "alerts" not in payload:
            payload = {"version": "4", "alerts": [payload]}
        result = parse(payload, time.time())
    except OSError as err:
        print(f"triaged: {path}: cannot read: {err.strerror}", file=sys.stderr)
        return 1
    except (orjson.JSONDecodeError, PayloadError) as err:
        print(f"triaged: {path}: {err}", file=sys.stderr)
        return 1
    for r in result.rejected:
        print(f"triaged: {path}: {r.where}: {r.message}", file=sys.stderr)
    alerts = result.notification.alerts
    scorer = Scorer(settings.triage, load_urgency_model(settings.triage.model))
    predictions = scorer.predict(list(alerts))
    out: list[dict[str, Any]] = []
    for alert in alerts:
        pred = predictions.get(alert.fingerprint)
        scored = scorer.scored(alert, pred, Blast())
        out.append(
            {
                "alertname": alert.labels.get("alertname", ""),
                "fingerprint": alert.fingerprint,
                "priority": scored.priority,
                "probabilities": dict(pred.probabilities) if pred else None,
                "reasons": list(scored.reasons),
            }
        )
    if as_json:
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for item in out:
            print(f"{item['priority']}  {item['alertname']} ({item['fingerprint']})")
            for reason in item["reasons"]:
                print(f"    - {reason}")
    return 1 if result.rejected and not alerts else 0
