"""Any JSON sender, read through a mapping from the config (``sources.generic.mappings.<name>``).

Batch policy: when the mapping names an ``alerts`` list, each element stands alone
(bad ones are rejected by index, the good ones kept), as for Alertmanager.
"""

from __future__ import annotations

from daemon.errors import PayloadError
from daemon.fingerprint import label_fingerprint
from daemon.models import Alert, AlertStatus
from daemon.settings import GenericMapping
from daemon.sources.common import BadAlert, drop_empty, parse_batch, sender_fingerprint
from daemon.sources.pointer import render, resolve
from daemon.sources.result import ParseResult
from daemon.timeparse import parse_rfc3339

SOURCE = "generic"


class GenericParser:
    """A ``parse`` bound to one named mapping; the source of its alerts is ``generic``."""

    def __init__(self, name: str, mapping: GenericMapping) -> None:
        self.name = name
        self.mapping = mapping

    def __call__(self, payload: object, received_at: float) -> ParseResult:
        """Parse a body with this mapping; never mutates ``payload``."""
        m = self.mapping
        if m.alerts:
            items = resolve(payload, m.alerts[1:] if m.alerts.startswith("$") else m.alerts)
            if not isinstance(items, list):
                raise PayloadError(f"expected a list of alerts at {m.alerts!r}")
        else:
            if not isinstance(payload, dict):
                raise PayloadError("expected a JSON object (one alert)")
            items = [payload]
        result = parse_batch(
            SOURCE,
            items,
            received_at,
            lambda item: self._to_alert(item, payload, received_at),
            receiver=self.name,
            where="alerts" if m.alerts else "body",
        )
        if not m.alerts and result.rejected:
            # One alert per body: nothing to keep, so the body itself is refused.
            raise PayloadError(result.rejected[0].message)
        return result

    def _to_alert(self, item: object, body: object, received_at: float) -> Alert:
        m = self.mapping
        raw_status = render(m.status, item, body)
        status_text = m.status_map.get(raw_status or "")
        if status_text is None:
            known = ", ".join(sorted(m.status_map))
            raise BadAlert(f"status: {(raw_status or '')[:40]!r} is not one of {known}")
        labels = drop_empty({k: render(v, item, body) or "" for k, v in m.labels.items()})
        if not labels.get("alertname"):
            raise BadAlert("alertname is missing (mapping labels.alertname)")
        labels["generic_mapping"] = self.name
        annotations = drop_empty({k: render(v, item, body) or "" for k, v in m.annotations.items()})
        own = render(m.fingerprint, item, body) if m.fingerprint else None
        if own:
            fingerprint = sender_fingerprint(f"generic/{self.name}", own)
        else:
            keys = m.identity or list(labels)
            fingerprint = label_fingerprint({k: labels[k] for k in keys if k in labels})
        started = render(m.starts_at, item, body) if m.starts_at else None
        return Alert(
            fingerprint=fingerprint,
            source=SOURCE,
            status=AlertStatus(status_text),
            labels=labels,
            annotations=annotations,
            starts_at=parse_rfc3339(started) if started else None,
            ends_at=None,
            generator_url=(render(m.generator_url, item, body) or "") if m.generator_url else "",
            received_at=received_at,
        )
