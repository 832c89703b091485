"""The narrow contract between triaged and a tracker, and the types that cross it.

``connectors`` never imports ``daemon``: the daemon maps its incidents onto
``IncidentRequest`` and stores the ``IncidentRef`` a connector returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert of an incident, as a ticket shows it."""

    fingerprint: str
    alertname: str
    status: str
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    generator_url: str = ""


@dataclass(frozen=True, slots=True)
class IncidentRequest:
    """Everything a tracker needs to open, update or resolve one incident's ticket.

    ``marker`` is the stable identity a connector writes into the ticket (a label, a
    custom field, a correlation id, a dedup key) so that a create whose answer was
    lost can be found again instead of created twice.
    """

    incident_id: str
    title: str
    priority: str
    status: str  # open | acknowledged | resolved
    summary: str = ""
    alerts: tuple[AlertLine, ...] = ()
    group_labels: dict[str, str] = field(default_factory=dict)
    team: str | None = None
    url: str = ""  # link back to the incident in triaged
    note: str = ""  # what changed, for updates (a comment)
    reasons: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        """The identity written into remote tickets: ``triaged-<incident id>``."""
        return f"triaged-{self.incident_id}"

    def description(self) -> str:
        """A plain-text body shared by trackers without a rich format."""
        lines = [self.summary] if self.summary else []
        lines.append(f"Priority {self.priority}: {'; '.join(self.reasons) or 'no reason given'}")
        if self.alerts:
            lines.append("")
            lines.append(f"Alerts ({len(self.alerts)}):")
            for a in self.alerts:
                text = f"- [{a.status}] {a.alertname}"
                lines.append(f"{text}: {a.summary}" if a.summary else text)
        if self.url:
            lines += ["", f"triaged: {self.url}"]
        lines += ["", f"triaged incident id: {self.incident_id} ({self.marker})"]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class IncidentRef:
    """Where an incident lives in one tracker; stored by the daemon after a successful open."""

    key: str
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class ConnectorConfig(BaseModel):
    """Settings every connector shares; each connector extends this with its own.

    ``endpoint`` is the tracker's base URL (conventions: the option is named endpoint).
    """

    # hide_input_in_errors: a validation error must never echo a token or a webhook URL.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    endpoint: HttpUrl
    timeout: float = Field(default=10.0, gt=0, le=120)


@runtime_checkable
class Connector(Protocol):
    """One tracker. Network I/O happens only in these methods, never in ``__init__``.

    Each method raises ``ConnectorUnavailable`` (retry later), ``ConnectorRejected``
    or ``ConnectorAuthError`` (give up, dead-letter): nothing else escapes.
    """

    name: str

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """Create the remote ticket; returns its reference."""

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Bring the ticket up to date (priority, alerts, a note as a comment)."""

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """Close/resolve the ticket."""

    async def healthcheck(self) -> None:
        """Check credentials and permissions of the real write path; raise what is wrong."""


@runtime_checkable
class Findable(Protocol):
    """A connector that can find the ticket of an incident by its marker.

    The delivery worker calls this before retrying an ``open`` whose previous attempt
    may have reached the tracker (a timeout), so a lost answer never becomes a
    second ticket.
    """

    async def find_incident(self, req: IncidentRequest) -> IncidentRef | None:
        """The existing ticket carrying ``req.marker``, or None."""
