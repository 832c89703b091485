"""Prometheus Alertmanager webhook (``version: "4"``), as Alertmanager 0.25 sends it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import Alert, AlertStatus, Notification
from daemon.sources.result import ParseResult, Rejection
from daemon.timeparse import parse_rfc3339

SOURCE = "alertmanager"
STATUS_MAP = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
SUPPORTED_VERSIONS = frozenset({"4"})


class _WireAlert(BaseModel):
    """One element of ``alerts``; extra keys are tolerated (newer Alertmanagers add some)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    status: str
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in STATUS_MAP:
            raise ValueError(f"expected 'firing' or 'resolved', got {value!r}")
        return value


def parse(payload: object, received_at: float) -> ParseResult:
    """Turn a webhook body into alerts; never mutates ``payload``.

    A wrong envelope (not an object, no ``alerts`` list, unknown ``version``) is a
    ``PayloadError``; a bad element of ``alerts`` is rejected alone, so the good
    alerts of the same batch are still accepted.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError("expected a JSON object (an Alertmanager webhook body)")
    version = payload.get("version")
    if version is not None and (not isinstance(version, str) or version not in SUPPORTED_VERSIONS):
        raise PayloadError(f'unsupported webhook version {version!r}: expected "4"')
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError("'alerts' must be a list of alerts")
    truncated = payload.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("'truncatedAlerts' must be a non-negative integer")
    group_key = payload.get("groupKey", "")
    receiver = payload.get("receiver", "")
    alerts: list[Alert] = []
    rejected: list[Rejection] = []
    positions: list[str] = []
    for index, raw in enumerate(raw_alerts):
        try:
            alerts.append(_to_alert(raw, received_at))
            positions.append(f"alerts[{index}]")
        except (ValidationError, ValueError, OverflowError) as err:
            rejected.append(Rejection(f"alerts[{index}]", "invalid_alert", _explain(err)))
    notification = Notification(
        source=SOURCE,
        received_at=received_at,
        alerts=tuple(alerts),
        group_key=group_key if isinstance(group_key, str) else "",
        truncated_alerts=truncated,
        receiver=receiver if isinstance(receiver, str) else "",
    )
    return ParseResult(notification, tuple(rejected), tuple(positions))


def _to_alert(raw: Any, received_at: float) -> Alert:
    wire = _WireAlert.model_validate(raw)
    return Alert(
        # Recomputed rather than trusted: identical to Alertmanager's for every
        # captured alert, and it cannot be spoofed apart from the labels.
        fingerprint=label_fingerprint(wire.labels),
        source=SOURCE,
        status=STATUS_MAP[wire.status],
        labels=wire.labels,
        annotations=wire.annotations,
        starts_at=parse_rfc3339(wire.startsAt),
        ends_at=parse_rfc3339(wire.endsAt),
        generator_url=wire.generatorURL,
        received_at=received_at,
    )


def _explain(err: ValidationError | ValueError | OverflowError) -> str:
    if isinstance(err, ValidationError):
        parts = []
        for e in err.errors(include_url=False):
            loc = ".".join(str(p) for p in e["loc"]) or "alert"
            parts.append(f"{loc}: {e['msg'].removeprefix('Value error, ')}")
        return "; ".join(parts)
    return str(err)
