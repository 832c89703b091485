"""Deduplicate: decide what one notification of an alert means, given what we knew of it."""

from __future__ import annotations

from enum import StrEnum

from daemon.models import Alert, AlertState, AlertStatus


class Transition(StrEnum):
    """The outcome of one alert notification; also the ``outcome`` metric label."""

    FIRST = "first"  # never seen firing before: may open or join an incident
    REPEAT = "repeat"  # still firing, nothing new: a duplicate
    UPDATE = "update"  # still firing, annotations changed
    RESOLVE = "resolve"  # was firing, now resolved
    REFIRE = "refire"  # was resolved, fires again: a new occurrence
    RESOLVE_REPEAT = "resolve_repeat"  # resolved again: a duplicate
    RESOLVE_UNKNOWN = "resolve_unknown"  # resolved, never seen firing: recorded only
    STALE = "stale"  # an older occurrence delivered late: dropped
    SUPPRESSED = "suppressed"  # firing, but silenced, in maintenance or inhibited: recorded only


# Transitions that change nothing an SRE would see: counted, never passed on.
DUPLICATES = frozenset({Transition.REPEAT, Transition.RESOLVE_REPEAT, Transition.STALE})


def classify(prev: AlertState | None, alert: Alert) -> Transition:
    """The transition from ``prev`` to ``alert``.

    Alertmanager re-sends a whole group on every change and every repeat interval,
    and retries after errors, so most notifications repeat what we know. Ordering by
    ``startsAt`` tells a late retry of an old occurrence from a genuine re-fire.
    """
    firing = alert.status is AlertStatus.FIRING
    if prev is None:
        return Transition.FIRST if firing else Transition.RESOLVE_UNKNOWN
    starts, prev_starts = alert.starts_at, prev.starts_at
    if starts is not None and prev_starts is not None and starts < prev_starts:
        return Transition.STALE  # an older occurrence
    if prev.status is AlertStatus.FIRING:
        if not firing:
            return Transition.RESOLVE
        if alert.annotations is not prev.annotations and alert.annotations != prev.annotations:
            return Transition.UPDATE
        return Transition.REPEAT
    # prev is resolved
    if not firing:
        return Transition.RESOLVE_REPEAT
    if starts is not None and starts == prev_starts:
        # The firing notification of an occurrence we already saw resolve: a late retry.
        return Transition.STALE
    return Transition.REFIRE


def next_state(prev: AlertState | None, alert: Alert, transition: Transition) -> AlertState:
    """The state to remember after ``transition``; a stale notification changes nothing."""
    if prev is not None and transition is Transition.STALE:
        return prev
    if prev is None:
        return AlertState(
            fingerprint=alert.fingerprint,
            source=alert.source,
            status=alert.status,
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            generator_url=alert.generator_url,
            first_seen=alert.received_at,
            last_seen=alert.received_at,
            receive_count=1,
            fire_count=1 if alert.status is AlertStatus.FIRING else 0,
            incident_id=None,
        )
    prev.status = alert.status
    prev.annotations = alert.annotations
    prev.labels = alert.labels
    prev.starts_at = alert.starts_at if alert.starts_at is not None else prev.starts_at
    prev.ends_at = alert.ends_at
    prev.generator_url = alert.generator_url or prev.generator_url
    prev.last_seen = max(prev.last_seen, alert.received_at)
    prev.receive_count += 1
    if transition is Transition.REFIRE:
        prev.fire_count += 1
    return prev
