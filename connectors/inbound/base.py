"""What a tracker tells triaged about one of its tickets, and the two ways a webhook fails.

::

    InboundError           the body cannot be read as this tracker's webhook (-> 400)
    └── InboundAuthError   missing or wrong signature / token, or no secret set (-> 401)

``InboundAuthError`` subclasses ``InboundError`` so a caller that only maps 400 still
refuses the request; map it first to answer 401.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

Action = Literal["acknowledge", "resolve", "reopen", "note", "priority", "assign"]
ACTIONS: tuple[Action, ...] = ("acknowledge", "resolve", "reopen", "note", "priority", "assign")


class InboundError(ValueError):
    """The body is not a webhook this parser understands; the message says which part."""


class InboundAuthError(InboundError):
    """The request is not proven to come from the tracker; the message never echoes secrets."""


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One change a person made in a tracker, in triaged's vocabulary.

    ``ref`` is the same value the outbound connector stored as ``IncidentRef.key``, so
    the daemon can find the incident. ``event_id`` is stable across redeliveries of the
    same webhook and unique per event (a delivery that carries several changes gives
    each its own id), so the daemon applies each at most once.
    """

    connector_kind: str
    ref: str
    action: Action
    event_id: str
    at: float  # unix seconds, when the tracker says the change happened
    actor: str = ""
    text: str = ""  # the comment / note (also the comment of a resolve or ack, if any)
    priority: str | None = None  # P1..P5, set when action == "priority"
    team: str | None = None  # set when action == "assign" and the tracker names a group
    assignee: str | None = None  # set when action == "assign" and it names a person


# parse(headers, body, secret) -> events; raises InboundError / InboundAuthError only.
Parser = Callable[[Mapping[str, str], bytes, str | None], list[InboundEvent]]
