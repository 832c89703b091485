"""The pipeline remembers the grouping of as many alerts as the embedded store remembers states."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from daemon.metrics import build_metrics
from daemon.models import Alert, AlertStatus
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.store.sqlite import SqliteStore
from daemon.store.state_cache import DEFAULT_SIZE

AT = 1_800_000_000.0


def test_a_repeat_of_any_remembered_alert_finds_its_grouping(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """Why: a repeat whose state is still in memory but whose grouping is not rebuilds it
    (group key, route, labels), which cost 12-15% of the end-to-end rate with 45,000 active
    alerts. So the oldest of more alerts than one generation of states still hits."""
    pipeline = Pipeline(SqliteStore(tmp_path / "g.db"), make_settings(), build_metrics())
    alerts = [
        Alert(
            f"{i:016x}",
            "alertmanager",
            AlertStatus.FIRING,
            {"alertname": "A", "instance": f"h{i}"},
            {},
            None,
            None,
            "",
            AT,
        )
        for i in range(DEFAULT_SIZE + 1000)
    ]
    groupings = [pipeline.grouping_of(a) for a in alerts]
    assert pipeline.grouping_of(alerts[0]) is groupings[0]
    assert pipeline.grouping_of(alerts[-1]) is groupings[-1]
