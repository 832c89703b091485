"""RFC 3339 timestamps as senders write them, to Unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_rfc3339(value: str) -> float | None:
    """Unix seconds, or None for Go's zero time (``0001-01-01T00:00:00Z``) and empty strings.

    Alertmanager writes nanoseconds; ``datetime.fromisoformat`` keeps microseconds,
    which is all the precision ordering needs. A timestamp without an offset is UTC.
    """
    if not value or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected an RFC 3339 timestamp, got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def iso(ts: float | None) -> str | None:
    """Unix seconds as RFC 3339 UTC with milliseconds, for people and the API (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
