"""Prometheus Alertmanager webhook (``version: "4"``), as Alertmanager 0.25 sends it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from classifiers.generations import Generations
from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import Alert, AlertStatus, Notification
from daemon.sources.result import ParseResult, Rejection
from daemon.timeparse import parse_rfc3339

SOURCE = "alertmanager"
STATUS_MAP = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
SUPPORTED_VERSIONS = frozenset({"4"})
_MISSING = object()
_OPTIONAL_TEXT = ("startsAt", "endsAt", "generatorURL")
_NO_ANNOTATIONS: dict[str, str] = {}
# Fingerprints by the labels' compact JSON. Alertmanager re-sends whole groups, so most
# alerts of a webhook were seen moments ago; sorting, encoding and hashing the labels
# costs ~3-4 us an alert (the hash in C), a lookup ~0.5 us. Two generations bound the memory
# (at most 2 x _FP_GENERATION keys of ~400 bytes: ~13 MiB; classifiers/generations.py).
_FP_GENERATION = 16384
_fingerprints: Generations[bytes, str] = Generations(_FP_GENERATION)
# The last alert parsed under each fingerprint a sender put on it, with its raw startsAt
# and endsAt. Alertmanager re-sends whole groups, so most alerts of a webhook are exactly
# one sent before: comparing what the sender says with what was parsed then (two dict
# equalities, three strings) costs a third of checking, copying and fingerprinting it
# again. The claim itself is never trusted: the labels must be equal, and the fingerprint
# reused is the one computed from them. Two generations bound it; the alerts share their
# label and annotation dicts, which nothing changes after parsing (``Alert`` is frozen).
_KNOWN_GENERATION = 16384
_known: Generations[str, tuple[Alert, str, str]] = Generations(_KNOWN_GENERATION)


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
    """The alert: as sent before, else by the fast check when it passes, else by pydantic
    (which also words the errors)."""
    if type(raw) is dict:
        claimed = raw.get("fingerprint")
        if type(claimed) is str:
            again = _same_again(raw, claimed, received_at)
            if again is not None:
                return again
    fast = _fast_alert(raw, received_at)
    if fast is not None:
        return fast
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


def _fast_alert(raw: Any, received_at: float) -> Alert | None:
    """The common well-formed alert without pydantic; ``None`` sends anything unusual to ``_WireAlert``.

    It accepts only what ``_WireAlert`` (strict) accepts, checked with exact types, so the
    two paths cannot disagree on what is valid; every refusal and its wording stay
    pydantic's. It also copies ``labels`` and ``annotations``, as pydantic does.
    """
    if type(raw) is not dict:
        return None
    status = raw.get("status")
    labels = raw.get("labels")
    annotations = raw.get("annotations", _MISSING)
    if type(status) is not str or status not in STATUS_MAP or type(labels) is not dict or not labels:
        return None
    if annotations is _MISSING:
        annotations = {}
    elif type(annotations) is not dict:
        return None
    if not _all_text(labels) or not _all_text(annotations):
        return None
    fields = []
    for key in _OPTIONAL_TEXT:
        value = raw.get(key, "")
        if type(value) is not str:
            return None
        fields.append(value)
    fingerprint = raw.get("fingerprint", "")
    if type(fingerprint) is not str:
        return None
    starts_at, ends_at, generator_url = fields
    return new_alert(
        fingerprint, status, dict(labels), dict(annotations), starts_at, ends_at, generator_url, received_at
    )


def new_alert(
    claim: str,
    status: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    starts_at: str,
    ends_at: str,
    generator_url: str,
    received_at: float,
) -> Alert:
    """The alert of fields already checked (``labels`` and ``annotations`` are the caller's
    own copies), remembered under the sender's ``claim`` for ``sent_again``.

    A timestamp ``parse_rfc3339`` cannot read raises ``ValueError``.
    """
    alert = Alert(
        _fingerprint(labels),
        SOURCE,
        STATUS_MAP[status],
        labels,
        annotations,
        parse_rfc3339(starts_at),
        parse_rfc3339(ends_at),
        generator_url,
        received_at,
    )
    if claim:
        _known.put(claim, (alert, starts_at, ends_at))
    return alert


def _same_again(raw: dict[str, Any], claim: str, received_at: float) -> Alert | None:
    """``sent_again`` with the fields of a decoded alert (absent ones as ``_fast_alert`` reads them)."""
    return sent_again(
        claim,
        raw.get("status"),
        raw.get("labels"),
        raw.get("annotations", _NO_ANNOTATIONS),
        raw.get("startsAt", ""),
        raw.get("endsAt", ""),
        raw.get("generatorURL", ""),
        received_at,
    )


def sent_again(
    claim: str,
    status: object,
    labels: object,
    annotations: object,
    starts_at: object,
    ends_at: object,
    generator_url: object,
    received_at: float,
) -> Alert | None:
    """The alert remembered under ``claim``, received again, when the sender says exactly
    what it said then; else ``None``.

    Equal to validated ``dict[str, str]`` means valid: JSON keys are strings, and only a
    string equals a string. Every field ``new_alert`` reads is compared, so the result
    is the one it would build (with the dicts shared rather than copied).
    """
    known = _known.get(claim)
    if known is None:
        return None
    alert, known_starts, known_ends = known
    if (
        labels != alert.labels
        or annotations != alert.annotations
        or status != alert.status.value
        or starts_at != known_starts
        or ends_at != known_ends
        or generator_url != alert.generator_url
    ):
        return None
    return Alert(
        alert.fingerprint,
        SOURCE,
        alert.status,
        alert.labels,
        alert.annotations,
        alert.starts_at,
        alert.ends_at,
        alert.generator_url,
        received_at,
    )


def _all_text(values: dict[Any, Any]) -> bool:
    """Every key and value is exactly ``str`` (what strict ``dict[str, str]`` accepts from JSON)."""
    return all(type(k) is str and type(v) is str for k, v in values.items())


def _fingerprint(labels: dict[str, str]) -> str:
    """``label_fingerprint``, remembered for the labels seen recently (see ``_FP_GENERATION``)."""
    try:
        key = orjson.dumps(labels)
    except orjson.JSONEncodeError:  # e.g. a lone surrogate: label_fingerprint refuses it by name
        return label_fingerprint(labels)
    found = _fingerprints.get(key)
    if found is None:
        found = label_fingerprint(labels)
        _fingerprints.put(key, found)
    return found


def _explain(err: ValidationError | ValueError | OverflowError) -> str:
    if isinstance(err, ValidationError):
        parts = []
        for e in err.errors(include_url=False):
            loc = ".".join(str(p) for p in e["loc"]) or "alert"
            parts.append(f"{loc}: {e['msg'].removeprefix('Value error, ')}")
        return "; ".join(parts)
    return str(err)
