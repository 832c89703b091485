"""Size limits on what senders send, applied at the edge (``intake`` settings), as pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import cast

from daemon.errors import PayloadError, PayloadTooLarge
from daemon.models import Alert
from daemon.settings import IntakeSettings
from daemon.sources.result import ParseResult, Rejection

# What JSON nests in: orjson decodes objects and arrays to exactly these types.
_CONTAINERS = frozenset((dict, list))


def check_depth(value: object, limit: int) -> None:
    """Raise ``PayloadError`` when JSON nests deeper than ``limit`` (iterative: no recursion to blow).

    Level by level, keeping only containers: a webhook is mostly strings, and not
    queueing each one with its depth made this check 3x cheaper on Alertmanager bodies.
    A node whose children hold no container (labels, annotations: most nodes) is passed
    over by one C-level scan of their types, which halved the check again (2.7 to 1.3 us
    an alert on batch-50 bodies, issue 10, session 15). ``value`` comes from
    ``orjson.loads``, so exact types are the whole test.
    """
    level: list[object] = [value] if type(value) in _CONTAINERS else []
    depth = 1
    while level:
        if depth > limit:
            raise PayloadError(f"JSON nested deeper than {limit} levels (intake.max_depth)")
        below: list[object] = []
        for node in level:
            children: Iterable[object] = node.values() if type(node) is dict else cast(list[object], node)
            if _CONTAINERS.isdisjoint(map(type, children)):
                continue
            below.extend(c for c in children if type(c) in _CONTAINERS)
        level = below
        depth += 1


def problem(alert: Alert, limits: IntakeSettings) -> str | None:
    """Why ``alert`` is over a limit, or ``None``; the message names the setting."""
    if (
        _within(alert.labels, limits)
        and _within(alert.annotations, limits)
        and len(alert.generator_url) <= limits.max_value_length
    ):
        return None
    return _first_problem(alert, limits)


def _within(values: dict[str, str], limits: IntakeSettings) -> bool:
    """All in bounds, by C-level min/max over lengths: the common case, without a loop per key."""
    if not values:
        return True
    return (
        len(values) <= limits.max_labels
        and "" not in values  # no empty name: one lookup, not the minimum of the lengths
        and max(map(len, values)) <= limits.max_key_length
        and max(map(len, values.values())) <= limits.max_value_length
    )


def _first_problem(alert: Alert, limits: IntakeSettings) -> str | None:
    """The first limit ``alert`` breaks, in a fixed order, worded for the sender."""
    if len(alert.labels) > limits.max_labels:
        return f"{len(alert.labels)} labels, more than intake.max_labels ({limits.max_labels})"
    if len(alert.annotations) > limits.max_labels:
        return f"{len(alert.annotations)} annotations, more than intake.max_labels ({limits.max_labels})"
    for kind, values in (("label", alert.labels), ("annotation", alert.annotations)):
        for key, value in values.items():
            if len(key) > limits.max_key_length or not key:
                return (
                    f"a {kind} name is empty or longer than intake.max_key_length ({limits.max_key_length})"
                )
            if len(value) > limits.max_value_length:
                return f"{kind} {key!r} is longer than intake.max_value_length ({limits.max_value_length})"
    if len(alert.generator_url) > limits.max_value_length:
        return f"the URL is longer than intake.max_value_length ({limits.max_value_length})"
    return None


def enforce(result: ParseResult, limits: IntakeSettings) -> ParseResult:
    """Refuse a batch over ``max_alerts`` (413), and each alert over a per-alert limit by position.

    A one-alert body (no positions) over a limit is refused whole, with a 400.
    """
    alerts = result.notification.alerts
    total = len(alerts) + len(result.rejected)
    if total > limits.max_alerts:
        raise PayloadTooLarge(
            f"{total} alerts in one request, more than intake.max_alerts ({limits.max_alerts})"
        )
    kept: list[Alert] = []
    where: list[str] = []
    rejected = list(result.rejected)
    for index, alert in enumerate(alerts):
        reason = problem(alert, limits)
        if reason is None:
            kept.append(alert)
            where.append(result.where[index] if index < len(result.where) else "body")
        elif not result.where:
            raise PayloadError(reason)
        else:
            rejected.append(Rejection(result.where[index], "over_limit", reason))
    if len(kept) == len(alerts):
        return result
    rejected.sort(key=lambda r: _position(r.where))
    notification = replace(result.notification, alerts=tuple(kept))
    return ParseResult(notification, tuple(rejected), tuple(where))


def _position(where: str) -> int:
    digits = where.rpartition("[")[2].rstrip("]")
    return int(digits) if digits.isdigit() else -1
