"""Size limits on what senders send, applied at the edge (``intake`` settings), as pure functions."""

from __future__ import annotations

from dataclasses import replace

from daemon.errors import PayloadError, PayloadTooLarge
from daemon.models import Alert
from daemon.settings import IntakeSettings
from daemon.sources.result import ParseResult, Rejection


def check_depth(value: object, limit: int) -> None:
    """Raise ``PayloadError`` when JSON nests deeper than ``limit`` (iterative: no recursion to blow)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: list[object] = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            raise PayloadError(f"JSON nested deeper than {limit} levels (intake.max_depth)")
        stack.extend((child, depth + 1) for child in children)


def problem(alert: Alert, limits: IntakeSettings) -> str | None:
    """Why ``alert`` is over a limit, or ``None``; the message names the setting."""
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
