"""Scoring cost: the bundled urgency model per alert at batch 1 and batch 100.

    .venv/bin/python benchmarks/score.py [--repeat N]

Alerts are the real captured Alertmanager alerts (tests/.../fixtures). The baseline in
the same run is the pure-Python part of the same call (building the feature fields from
labels, annotations and generatorURL), so the ratio says what the scikit-learn model
adds on top of work the daemon does anyway. Figures are printed as microseconds per alert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from classifiers.features import fields_from_alert
from classifiers.load import load_model

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "test_daemon" / "sources" / "fixtures" / "alertmanager"


def captured_alerts() -> list[dict[str, Any]]:
    """Every alert of every captured webhook."""
    alerts = []
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text())
        if isinstance(body, dict) and "alerts" in body and "groupKey" in body:
            alerts.extend(body["alerts"])
    return alerts


def per_alert_us(fn: Any, batch: list[dict[str, Any]], repeat: int) -> float:
    """Median microseconds per alert over ``repeat`` calls of ``fn(batch)``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(batch)
        times.append((time.perf_counter() - t0) / len(batch) * 1e6)
    return statistics.median(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    model = load_model()
    alerts = captured_alerts()

    def fields(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            fields_from_alert(a["labels"], a["annotations"], a["generatorURL"], "alertmanager") for a in batch
        ]

    def predict(batch: list[dict[str, Any]]) -> Any:
        return model.predict(fields(batch))

    print(
        f"{len(alerts)} captured alerts; model {model.card.get('model_version', '?')}"
        if hasattr(model, "card") and isinstance(model.card, dict)
        else f"{len(alerts)} alerts"
    )
    print(f"{'batch':>5}  {'fields only us/alert':>20}  {'fields+model us/alert':>22}  {'ratio':>6}")
    for size in (1, 100):
        batch = (alerts * (size // len(alerts) + 1))[:size]
        predict(batch)  # warm up
        base = per_alert_us(fields, batch, args.repeat)
        full = per_alert_us(predict, batch, max(20, args.repeat // (10 if size > 1 else 1)))
        print(f"{size:>5}  {base:>20.1f}  {full:>22.1f}  {full / base:>6.1f}")


if __name__ == "__main__":
    main()
