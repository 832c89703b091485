"""Alertmanager webhook bodies decoded and checked in one C pass (msgspec): the edge's common case.

Why: the general path (``orjson.loads``, the depth check, ``alertmanager.parse``,
``limits.enforce``) walks every alert in Python, about 10 us an alert at batch 50,
the largest part of the edge's cost. A typed decode checks the same types and limits
while it reads the bytes, in about 1 us. It accepts only bodies that the general path
accepts whole, and builds the same alerts; anything else (a bad alert, a key it does
not know, a limit crossed, a timestamp it cannot read) gives the reason (``ASIDE``) and
the general path runs, which words every refusal and keeps the good alerts of the batch.
Property tests hold the two paths to the same answers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
import structlog

from daemon.models import Alert, Notification
from daemon.settings import IntakeSettings
from daemon.sources.alertmanager import SOURCE, new_alert, sent_again
from daemon.sources.result import ParseResult

# The deepest the schema nests (body, alerts, alert, labels): below an ``intake.max_depth``
# of 4 the general path must refuse such bodies, so this one stands aside.
DEPTH = 4
log = structlog.get_logger(__name__)

# msgspec bounds integers to int64; a larger count (orjson reads up to 2**64 - 1) is left
# to the general path.
_MAX_COUNT = 2**63 - 1

# Why a body went the general path: a type or limit the general path will name, a key the
# schema does not know (a newer Alertmanager, another sender), not JSON at all, a timestamp
# only the general path reads (or refuses), or ``intake.max_depth`` under ``DEPTH``.
ASIDE = ("checks", "unknown_field", "not_json", "timestamp", "depth_limit")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`(?: - at `([^`]*)`)?")
_INDEX = re.compile(r"\[\d+\]")
_reported: set[str] = set()
_REPORTED_MAX = 64


def parse(raw: bytes, received_at: float, limits: IntakeSettings) -> ParseResult | str:
    """The body's alerts, all accepted; or why the general path must decide, one of
    ``ASIDE`` (``triaged_webhooks_general_path_total``'s reasons)."""
    if limits.max_depth < DEPTH:
        return "depth_limit"
    decoder = decoder_for(limits)
    try:
        body: Any = decoder.decode(raw)
    except msgspec.ValidationError as err:
        unknown = _UNKNOWN.search(str(err))
        if unknown is None:
            return "checks"
        _report_unknown(unknown[1], unknown[2])
        return "unknown_field"
    except msgspec.DecodeError:
        return "not_json"
    except RecursionError:  # every value is typed and flat, so none is expected: never a 500
        return "checks"
    try:
        alerts = [_alert(wire, received_at) for wire in body.alerts]
    except (ValueError, OverflowError):
        return "timestamp"
    notification = Notification(
        SOURCE, received_at, tuple(alerts), body.groupKey, body.truncatedAlerts, body.receiver
    )
    return ParseResult(notification, (), _positions(len(alerts)))


def _report_unknown(field: str, where: str | None) -> None:
    """Say once per key (up to ``_REPORTED_MAX``) that bodies carrying it take the slower
    path: a newer Alertmanager adding a key would otherwise double the edge's CPU unseen."""
    key = f"{_INDEX.sub('[]', where or '$')}.{field}"
    if key in _reported or len(_reported) >= _REPORTED_MAX:
        return
    _reported.add(key)
    log.info(
        "alertmanager_key_unknown",
        key=key,
        note="bodies with this key are checked on the general path (more CPU an alert);"
        " none is refused for it",
    )


def decoder_for(limits: IntakeSettings) -> msgspec.json.Decoder[Any]:
    """The typed decoder of these limits (the benchmarks' floor receiver checks with it too)."""
    return _decoder(limits.max_alerts, limits.max_labels, limits.max_key_length, limits.max_value_length)


def _alert(wire: Any, received_at: float) -> Alert:
    claim = wire.fingerprint
    fields = (wire.status, wire.labels, wire.annotations, wire.startsAt, wire.endsAt, wire.generatorURL)
    again = sent_again(claim, *fields, received_at) if claim else None
    # msgspec builds fresh dicts: no copy is needed to own them.
    return again if again is not None else new_alert(claim, *fields, received_at)


@lru_cache(maxsize=64)
def _positions(n: int) -> tuple[str, ...]:
    return tuple(f"alerts[{i}]" for i in range(n))


@lru_cache(maxsize=8)
def _decoder(max_alerts: int, max_labels: int, max_key: int, max_value: int) -> msgspec.json.Decoder[Any]:
    """The schema for these limits (one per configuration: the settings are fixed at start).

    Every key Alertmanager 0.25 sends is declared and any other refused, so no value of
    unchecked depth or type can pass. The alert's fields are the strict
    ``alertmanager._WireAlert``'s; ``intake`` limits are ``limits.problem``'s, lengths
    counted in characters as ``len`` counts them.
    """
    key = Annotated[str, msgspec.Meta(min_length=1, max_length=max_key)]
    value = Annotated[str, msgspec.Meta(max_length=max_value)]
    labels = Annotated[dict[key, value], msgspec.Meta(min_length=1, max_length=max_labels)]
    annotations = Annotated[dict[key, value], msgspec.Meta(max_length=max_labels)]
    wire_alert = msgspec.defstruct(
        "WireAlert",
        [
            ("status", Literal["firing", "resolved"]),
            ("labels", labels),
            ("annotations", annotations, msgspec.field(default_factory=dict)),
            ("startsAt", str, ""),
            ("endsAt", str, ""),
            ("generatorURL", value, ""),
            ("fingerprint", str, ""),
        ],
        forbid_unknown_fields=True,
    )
    body = msgspec.defstruct(
        "Webhook",
        [
            ("alerts", Annotated[list[wire_alert], msgspec.Meta(max_length=max_alerts)]),  # type: ignore[valid-type]
            ("version", Literal["4"] | None, None),
            ("truncatedAlerts", Annotated[int, msgspec.Meta(ge=0, le=_MAX_COUNT)], 0),
            ("groupKey", str, ""),
            ("receiver", str, ""),
            ("status", str, ""),
            ("groupLabels", dict[str, str], msgspec.field(default_factory=dict)),
            ("commonLabels", dict[str, str], msgspec.field(default_factory=dict)),
            ("commonAnnotations", dict[str, str], msgspec.field(default_factory=dict)),
            ("externalURL", str, ""),
        ],
        forbid_unknown_fields=True,
    )
    return msgspec.json.Decoder(body)
