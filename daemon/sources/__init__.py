"""Senders: one pure ``parse`` module each, registered by the name used in the URL."""

from __future__ import annotations

from collections.abc import Callable

from daemon.settings import IntakeSettings
from daemon.sources import alertmanager, alertmanager_decode, cloudwatch, datadog, grafana, report, zabbix
from daemon.sources.result import ParseResult

Parser = Callable[[object, float], ParseResult]
# Reads the raw body and answers for all of it, or says why it leaves it to the ``Parser``.
BodyParser = Callable[[bytes, float, IntakeSettings], ParseResult | str]

# Senders whose usual body is checked in one pass over its bytes before the general path.
BODY_PARSERS: dict[str, BodyParser] = {"alertmanager": alertmanager_decode.parse}
# Generic JSON mappings are configured, not built in: see daemon/sources/generic.py.
SOURCES: dict[str, Parser] = {
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
    "datadog": datadog.parse,
    "zabbix": zabbix.parse,
    "cloudwatch": cloudwatch.parse,
}
# Not under /api/v1/alerts/: people post to /api/v1/reports (daemon/reports_intake.py).
REPORT: Parser = report.parse

__all__ = ["BODY_PARSERS", "REPORT", "SOURCES", "BodyParser", "ParseResult", "Parser"]
