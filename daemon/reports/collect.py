"""Reading the incidents of a time range from any store (SQLite or Redis) as KPI facts."""

from __future__ import annotations

from dataclasses import dataclass

from daemon.reports.kpi import IncidentFacts, facts
from daemon.store.base import Store

# The store lists incidents newest first with a limit and no time filter; a report reads
# at most this many (and says so when the range held more).
MAX_INCIDENTS = 100_000


@dataclass(frozen=True, slots=True)
class Collected:
    """The incidents opened in [since, until), and whether the listing limit cut some off."""

    since: float
    until: float
    incidents: list[IncidentFacts]
    truncated: bool


async def collect(store: Store, since: float, until: float, limit: int = MAX_INCIDENTS) -> Collected:
    """Facts of every incident opened in [since, until), oldest first."""
    listed = await store.list_incidents(None, limit)
    chosen = [i for i in listed if since <= i.opened_at < until]
    # Newest first: if the listing is full and its oldest is still inside the range,
    # older incidents of the range were left out.
    truncated = len(listed) >= limit and bool(listed) and listed[-1].opened_at >= since
    out: list[IncidentFacts] = []
    for incident in reversed(chosen):
        detail = await store.get_incident(incident.id)
        if detail is not None:
            out.append(facts(detail))
    return Collected(since, until, out, truncated)
