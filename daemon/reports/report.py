"""The KPI report of a time range: built once, rendered as JSON, Markdown or HTML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daemon.reports.collect import Collected
from daemon.reports.kpi import DIMENSIONS, IncidentFacts, KpiSummary, Stats, breakdown, summarize
from daemon.reports.servicenow import ServiceNowSummary, fmt_hours
from daemon.timeparse import iso


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report shows; renderers only format it."""

    since: float
    until: float
    generated_at: float
    truncated: bool
    incidents: list[IncidentFacts]
    overall: KpiSummary
    by: dict[str, dict[str, KpiSummary]]
    servicenow: ServiceNowSummary | None

    def to_json(self) -> dict[str, Any]:
        """The ``--format json`` document (durations in seconds, times RFC 3339)."""
        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "generated_at": iso(self.generated_at),
            "truncated": self.truncated,
            "overall": self.overall.to_json(),
            **{f"by_{dim}": {k: s.to_json() for k, s in groups.items()} for dim, groups in self.by.items()},
            "incidents": [f.to_json() for f in self.incidents],
            "servicenow": self.servicenow.to_json() if self.servicenow else None,
        }


def build_report(collected: Collected, generated_at: float, servicenow: ServiceNowSummary | None) -> Report:
    """Summarize the collected incidents overall and per priority, team and service."""
    items = collected.incidents
    return Report(
        since=collected.since,
        until=collected.until,
        generated_at=generated_at,
        truncated=collected.truncated,
        incidents=items,
        overall=summarize(items),
        by={dim: breakdown(items, key) for dim, key in DIMENSIONS.items()},
        servicenow=servicenow,
    )


def fmt_duration(seconds: float | None) -> str:
    """A duration people read at a glance: 45s, 12m, 3.5h, 2.1d."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def fmt_rate(value: float | None) -> str:
    """A share as a percentage with one decimal."""
    return "-" if value is None else f"{value * 100:.1f}%"


def fmt_number(value: float | None) -> str:
    """A ratio with two decimals."""
    return "-" if value is None else f"{value:.2f}"


def _stat(s: Stats) -> str:
    return f"{fmt_duration(s.mean)} / {fmt_duration(s.median)} / {fmt_duration(s.p90)}"


TRUNCATED = "the store held more incidents than a report reads; the oldest are left out."
KPI_HEADER = (
    "incidents",
    "resolved",
    "MTTI mean/median/p90",
    "MTTA mean/median/p90",
    "MTTR mean/median/p90",
    "response mean/median/p90",
    "first-time fix",
    "reopened",
    "alerts/incident",
    "noise reduction",
)


def kpi_cells(s: KpiSummary) -> list[str]:
    """One table row of KPIs (the same columns in Markdown and HTML)."""
    return [
        str(s.incidents),
        fmt_rate(s.resolution_rate),
        _stat(s.mtti),
        _stat(s.mtta),
        _stat(s.mttr),
        _stat(s.response),
        fmt_rate(s.first_time_fix_rate),
        fmt_rate(s.reopen_rate),
        fmt_number(s.alerts_per_incident),
        fmt_rate(s.noise_reduction),
    ]


SERVICENOW_HEADER = (
    "priority",
    "incidents",
    "closed",
    "resolved_at set",
    "MTTR n",
    "MTTR mean h",
    "MTTR median h",
    "MTTR p90 h",
    "never reassigned",
    "reopened",
    "made_sla true",
)


def servicenow_cells(r: Any) -> list[str]:
    """One row of the ServiceNow table, formatted as in the data README."""

    def share(k: int) -> str:
        return f"{k} ({k / r.incidents * 100:.2f}%)"

    return [
        r.priority,
        str(r.incidents),
        share(r.closed),
        share(r.resolved_at_set),
        str(r.mttr_hours.n),
        fmt_hours(r.mttr_hours.mean),
        fmt_hours(r.mttr_hours.median),
        fmt_hours(r.mttr_hours.p90),
        share(r.never_reassigned),
        share(r.reopened),
        share(r.made_sla),
    ]


def _md_table(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: Report) -> str:
    """The ``--format md`` report."""
    out = [
        f"# Incident report {iso(report.since)} to {iso(report.until)}",
        "",
        f"Generated {iso(report.generated_at)} by `triaged report`. Durations: mean / median / p90. "
        "Definitions: docs/reports.md.",
        "",
    ]
    if report.truncated:
        out += [f"**Warning:** {TRUNCATED}", ""]
    out += ["## Overall", "", *_md_table(("scope", *KPI_HEADER), [["all", *kpi_cells(report.overall)]]), ""]
    for dim, groups in report.by.items():
        rows = [[name, *kpi_cells(s)] for name, s in groups.items()]
        table = _md_table((dim, *KPI_HEADER), rows) if rows else ["(no incidents)"]
        out += [f"## By {dim}", "", *table, ""]
    if report.servicenow is not None:
        sn = report.servicenow
        out += [
            "## ServiceNow export",
            "",
            f"`{sn.source}`: {sn.events} events, {sn.row('all').incidents} incidents (final row of each). "
            "First-time fix proxy: never reassigned.",
            "",
            *_md_table(SERVICENOW_HEADER, [servicenow_cells(r) for r in sn.rows]),
            "",
        ]
    return "\n".join(out)
