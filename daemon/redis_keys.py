"""Every Redis key triaged writes, under one prefix, in one place (arq's constants.py idea).

Why each key exists and how long it lives:

- ``intake`` (stream, consumer group ``pipeline``): accepted notifications; trimmed
  only below the oldest entry not yet acknowledged.
- ``backlog`` (integer): alerts in the intake not yet committed; changed in the same
  transaction as XADD and XACK, so it never drifts.
- ``done:{entry}`` (string, TTL): marks an intake entry as committed, so a replica
  that took over a slow replica's entry never applies it twice.
- ``alert:{fingerprint}`` (string): an alert's state; expires ``retention`` after it
  resolves, kept while firing.
- ``counters:{fingerprint}`` (string): the alert's receive count and last-seen time, and
  its membership's in its incident; written with every change of the alert, so that a
  repeat (most traffic) rewrites these ~60 bytes instead of the ~1 KB state and the
  membership. They replace the state's and the membership's own; an alert stored
  before they existed has none, and its documents hold its counters. Same lifetime as
  ``alert:``.
- ``group:{group key}`` (string): the open incident of a group; deleted at resolve.
- ``incident:{id}`` (string), ``members:{id}`` (hash fingerprint -> membership),
  ``joined:{id}`` (sorted set of fingerprints by first_seen, so that a view reads
  ``limit`` members, not all), ``events:{id}`` (list): an incident; expire ``retention``
  after it resolves. An incident older than ``joined`` has fewer entries there than
  members, and is read whole as before.
- ``incidents`` and ``incidents:{status}`` (sorted sets by open time): listing indexes;
  ids of expired incidents are swept by housekeeping.
- ``outbox:job:{key}`` (hash, TTL once done): one delivery to a tracker, keyed by its
  idempotency key (incident, connector, action, revision), so it is enqueued once;
  ``outbox:q:{incident}|{connector}`` (list) keeps each tracker's jobs for an incident
  in order; ``outbox:ready`` (sorted set of queues by due time) is what workers claim
  (the claim bumps the score by a lease); ``outbox:all`` (sorted set) lists jobs.
  A stream was the first idea, but per-incident order with delayed retries needs
  queues with due times, which a stream does not have.
- ``refs:{incident}`` (hash connector -> ticket reference): expires with the incident.
- ``tickets`` (hash ``[connector, ticket key]`` as JSON -> incident id): finds the incident
  a tracker's inbound webhook is about; entries whose incident expired are swept by
  housekeeping, a few hundred at a time. ``tickets:indexed`` marks that the refs written
  before this index existed were added to it.
- ``deferred`` (sorted set of ``{kind}|{incident}`` by due time): when the upkeep must
  look at an incident again (``Incident.deferrals``), written with the incident, so the
  upkeep reads what is due rather than every open incident; ``deferred:indexed`` marks
  that the incidents written before it were added.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

CONSUMER_GROUP = "pipeline"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key names for one prefix."""

    prefix: str

    @property
    def intake(self) -> str:
        """The intake stream."""
        return f"{self.prefix}:intake"

    @property
    def pipeline_turn(self) -> str:
        """Which replica's pipeline step is running (an advisory lease)."""
        return f"{self.prefix}:pipeline-turn"

    @property
    def backlog(self) -> str:
        """Alerts accepted and not yet committed."""
        return f"{self.prefix}:backlog"

    def done(self, entry_id: str) -> str:
        """Marker of a committed intake entry."""
        return f"{self.prefix}:done:{entry_id}"

    def alert(self, fingerprint: str) -> str:
        """An alert's state."""
        return f"{self.prefix}:alert:{fingerprint}"

    def counters(self, fingerprint: str) -> str:
        """An alert's counters (they replace its state's and its membership's)."""
        return f"{self.prefix}:counters:{fingerprint}"

    def group(self, group_key: str) -> str:
        """A group's open incident."""
        return f"{self.prefix}:group:{group_key}"

    def incident(self, incident_id: str) -> str:
        """An incident's fields."""
        return f"{self.prefix}:incident:{incident_id}"

    def members(self, incident_id: str) -> str:
        """An incident's alerts."""
        return f"{self.prefix}:members:{incident_id}"

    def joined(self, incident_id: str) -> str:
        """An incident's alerts in join order (fingerprint scored by first_seen)."""
        return f"{self.prefix}:joined:{incident_id}"

    def events(self, incident_id: str) -> str:
        """An incident's timeline."""
        return f"{self.prefix}:events:{incident_id}"

    def incidents(self, status: str | None = None) -> str:
        """Listing index, all or by status."""
        return f"{self.prefix}:incidents" if status is None else f"{self.prefix}:incidents:{status}"

    def outbox_job(self, idempotency_key: str) -> str:
        """One delivery job."""
        return f"{self.prefix}:outbox:job:{idempotency_key}"

    def outbox_queue(self, incident_id: str, connector: str) -> str:
        """The ordered jobs of one incident in one tracker."""
        return f"{self.prefix}:outbox:q:{incident_id}|{connector}"

    def outbox_of(self, incident_id: str) -> str:
        """Every job of one incident, in order (the incident view's delivery states)."""
        return f"{self.prefix}:outbox:inc:{incident_id}"

    @property
    def outbox_ready(self) -> str:
        """Queues by due time."""
        return f"{self.prefix}:outbox:ready"

    @property
    def outbox_all(self) -> str:
        """Every job by creation time (listing)."""
        return f"{self.prefix}:outbox:all"

    def silences(self) -> str:
        """Hash: silence id -> silence (JSON); kept until deleted (expired ones are history)."""
        return f"{self.prefix}:silences"

    def refs(self, incident_id: str) -> str:
        """An incident's tickets, per connector."""
        return f"{self.prefix}:refs:{incident_id}"

    @property
    def tickets(self) -> str:
        """Ticket -> incident index (fields: ``ticket_field``)."""
        return f"{self.prefix}:tickets"

    @property
    def tickets_indexed(self) -> str:
        """Set once the refs older than the ticket index were added to it."""
        return f"{self.prefix}:tickets:indexed"

    @property
    def deferred(self) -> str:
        """Deferrals by due time (members: ``deferral``)."""
        return f"{self.prefix}:deferred"

    @property
    def deferred_indexed(self) -> str:
        """Set once the incidents older than the deferral index were added to it."""
        return f"{self.prefix}:deferred:indexed"

    @staticmethod
    def deferral(kind: str, incident_id: str) -> str:
        """A ``deferred`` member (kinds have no ``|``; incident ids may)."""
        return f"{kind}|{incident_id}"

    @staticmethod
    def parse_deferral(member: bytes | str) -> tuple[str, str]:
        """``(kind, incident id)`` of a ``deferred`` member."""
        text = member.decode() if isinstance(member, bytes) else member
        kind, _, incident_id = text.partition("|")
        return kind, incident_id

    @staticmethod
    def ticket_field(connector: str, key: str) -> bytes:
        """The ``tickets`` field of a connector's ticket (JSON: no separator to escape)."""
        return orjson.dumps([connector, key])
