"""Senders: one pure ``parse`` module each, registered by the name used in the URL."""

from __future__ import annotations

from collections.abc import Callable

from daemon.sources import alertmanager, cloudwatch, datadog, grafana, report, zabbix
from daemon.sources.result import ParseResult

Parser = Callable[[object, float], ParseResult]

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

__all__ = ["REPORT", "SOURCES", "ParseResult", "Parser"]
