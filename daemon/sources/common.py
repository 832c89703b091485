"""Helpers every sender's ``parse`` shares: reading untrusted JSON fields, identities, batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import Alert, Notification
from daemon.sources.result import ParseResult, Rejection


class BadAlert(ValueError):
    """One alert of a batch cannot be used; its message is returned to the sender by index."""


def require_object(payload: object, what: str) -> Mapping[str, Any]:
    """The body as a mapping, or a ``PayloadError`` naming what was expected."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"expected a JSON object ({what})")
    return payload


def text(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    """A field as a string: numbers are written out, objects and lists are refused.

    Senders template their bodies ($ID, {EVENT.ID}), so an id can arrive as a number
    or a string; anything else is a sign of a wrong body, not a value to store.
    """
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise BadAlert(f"{key}: expected a string, got {type(value).__name__}")


def string_map(obj: Mapping[str, Any], key: str) -> dict[str, str]:
    """An object of string values (labels, annotations); scalars are written out, others refused."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadAlert(f"{key}: expected an object of strings")
    return {str(k): text(value, str(k)) for k in value}


def sender_fingerprint(source: str, sender_id: str) -> str:
    """A bounded, stable identity from a sender's own id (ids can be any length on the wire)."""
    return label_fingerprint({"source": source, "id": sender_id})


def drop_empty(values: Mapping[str, str]) -> dict[str, str]:
    """Leave out empty values: an unset template variable must not become a label."""
    return {k: v for k, v in values.items() if v != ""}


def parse_batch(
    source: str,
    items: Sequence[object],
    received_at: float,
    to_alert: Callable[[object], Alert],
    *,
    group_key: str = "",
    receiver: str = "",
    where: str = "alerts",
) -> ParseResult:
    """Parse each item alone: a bad one is rejected by index and the good ones are kept."""
    alerts: list[Alert] = []
    rejected: list[Rejection] = []
    positions: list[str] = []
    for index, raw in enumerate(items):
        try:
            alerts.append(to_alert(raw))
            positions.append(f"{where}[{index}]")
        except (ValueError, OverflowError) as err:
            rejected.append(Rejection(f"{where}[{index}]", "invalid_alert", str(err)))
    notification = Notification(
        source=source,
        received_at=received_at,
        alerts=tuple(alerts),
        group_key=group_key,
        receiver=receiver,
    )
    return ParseResult(notification, tuple(rejected), tuple(positions))


def single(source: str, received_at: float, alert: Alert, *, group_key: str = "") -> ParseResult:
    """A body that carries exactly one alert (Datadog, Zabbix, CloudWatch, a report)."""
    return ParseResult(
        Notification(source=source, received_at=received_at, alerts=(alert,), group_key=group_key)
    )
