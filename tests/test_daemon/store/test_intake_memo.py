"""The intake memo's bound: by alerts, oldest dropped first, never more than it may hold."""

from __future__ import annotations

from daemon.models import Alert, AlertStatus, Notification
from daemon.store.intake_memo import IntakeMemo


def _notification(n_alerts: int) -> Notification:
    alerts = tuple(
        Alert(
            f"{i:016x}", "test", AlertStatus.FIRING, {"alertname": "A", "i": str(i)}, {}, None, None, "", 1.0
        )
        for i in range(n_alerts)
    )
    return Notification("test", 1.0, alerts)


def test_the_oldest_entries_make_room_and_the_count_follows() -> None:
    memo: IntakeMemo[int] = IntakeMemo(max_alerts=10)
    first, second, third = _notification(4), _notification(4), _notification(4)
    memo.keep(1, first)
    memo.keep(2, second)
    assert memo.alerts == 8
    memo.keep(3, third)  # 12 > 10: entry 1 goes
    assert memo.get(1) is None
    assert memo.get(2) is second
    assert memo.get(3) is third
    assert memo.alerts == 8
    memo.forget([2, 99])
    assert memo.get(2) is None
    assert (memo.alerts, len(memo)) == (4, 1)


def test_an_entry_larger_than_the_bound_is_not_kept_and_evicts_nothing() -> None:
    memo: IntakeMemo[str] = IntakeMemo(max_alerts=5)
    small = _notification(2)
    memo.keep("a", small)
    memo.keep("b", _notification(6))
    assert memo.get("b") is None
    assert memo.get("a") is small
    memo.clear()
    assert (memo.alerts, len(memo)) == (0, 0)
