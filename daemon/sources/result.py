"""What every source's ``parse`` returns: the good alerts, and why each bad one was refused."""

from __future__ import annotations

from dataclasses import dataclass, field

from daemon.models import Notification


@dataclass(frozen=True, slots=True)
class Rejection:
    """One alert of a batch that could not be accepted; ``where`` points into the payload."""

    where: str
    reason: str
    message: str

    def to_json(self) -> dict[str, str]:
        """The shape returned to the sender."""
        return {"where": self.where, "reason": self.reason, "error": self.message}


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A notification of accepted alerts plus the rejected ones, so one bad alert never sinks a batch."""

    notification: Notification
    rejected: tuple[Rejection, ...] = field(default=())
    # Where each accepted alert was in the body ("alerts[3]"), in the same order; empty
    # for one-alert bodies. Lets the edge reject an alert over a limit by its position.
    where: tuple[str, ...] = field(default=())
