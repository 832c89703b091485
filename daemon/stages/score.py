"""Score: a placeholder priority from the sender's severity label, with its reason.

The trained classifier and rules replace this in their own issue; the shape (a
priority plus the reason an SRE reads) is the one they keep.
"""

from __future__ import annotations

from collections.abc import Mapping

from daemon.settings import PrioritySettings


def priority_of(labels: Mapping[str, str], settings: PrioritySettings) -> tuple[str, str]:
    """``(priority, reason)`` for an alert with these labels."""
    raw = labels.get(settings.label)
    if raw is None:
        return settings.default, f"no {settings.label} label: default {settings.default}"
    mapped = settings.map.get(raw.lower())
    if mapped is None:
        return settings.default, (
            f"{settings.label}={raw} is not in priority.map: default {settings.default}"
        )
    return mapped, f"{settings.label}={raw} -> {mapped}"


def higher(a: str, b: str) -> bool:
    """Whether priority ``a`` is more urgent than ``b`` (P1 beats P2)."""
    return a < b
