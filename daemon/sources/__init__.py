"""Senders: one pure ``parse`` module each, registered by the name used in the URL."""

from __future__ import annotations

from collections.abc import Callable

from daemon.sources import alertmanager
from daemon.sources.result import ParseResult

Parser = Callable[[object, float], ParseResult]

SOURCES: dict[str, Parser] = {
    "alertmanager": alertmanager.parse,
}

__all__ = ["SOURCES", "ParseResult", "Parser"]
