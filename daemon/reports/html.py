"""The ``--format html`` report: one self-contained page (inline CSS and SVG, no scripts, no fetches).

Self-contained so it can be mailed, attached to a ticket or opened from disk with no
server and no network; every value is escaped, since titles, teams and services come
from alert labels that any sender controls.
"""

from __future__ import annotations

from html import escape

from daemon.reports import charts
from daemon.reports.report import (
    KPI_HEADER,
    SERVICENOW_HEADER,
    TRUNCATED,
    Report,
    fmt_duration,
    kpi_cells,
    servicenow_cells,
)
from daemon.timeparse import iso

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
.warn { color: #b2182b; font-weight: bold; }
"""


def _table(header: tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(chart_id: str, svg: str, caption: str) -> str:
    return f'<figure id="{chart_id}" class="chart">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def render_html(report: Report) -> str:
    """The whole page as a string."""
    title = f"Incident report {iso(report.since)} to {iso(report.until)}"
    items = report.incidents
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Generated {escape(iso(report.generated_at) or '')} by <code>triaged report</code>. "
        "Durations: mean / median / p90. Definitions: docs/reports.md.</p>",
    ]
    if report.truncated:
        parts.append(f'<p class="warn">Warning: {escape(TRUNCATED)}</p>')
    parts += [
        "<h2>Overall</h2>",
        _table(("scope", *KPI_HEADER), [["all", *kpi_cells(report.overall)]]),
        "<h2>Charts</h2>",
        _figure(
            "chart-incidents",
            charts.incidents_over_time(items, report.since, report.until),
            "Incidents opened per interval, stacked by priority.",
        ),
        _figure(
            "chart-mttr",
            charts.mttr_distribution(items),
            "Time from opened to resolved, resolved incidents only; dashed median, dotted p90.",
        ),
        _figure(
            "chart-noise",
            charts.noise_reduction(items),
            "Alert notifications received against incidents opened, per priority.",
        ),
    ]
    for dim, groups in report.by.items():
        parts.append(f"<h2>By {escape(dim)}</h2>")
        rows = [[name, *kpi_cells(s)] for name, s in groups.items()]
        parts.append(_table((dim, *KPI_HEADER), rows) if rows else "<p>(no incidents)</p>")
    parts += ["<h2>Incidents</h2>", _incident_table(report)]
    if report.servicenow is not None:
        sn = report.servicenow
        parts += [
            "<h2>ServiceNow export</h2>",
            f"<p><code>{escape(sn.source)}</code>: {sn.events} events, {sn.row('all').incidents} incidents. "
            "First-time fix proxy: never reassigned.</p>",
            _table(SERVICENOW_HEADER, [servicenow_cells(r) for r in sn.rows]),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def _incident_table(report: Report) -> str:
    header = ("id", "title", "priority", "team", "service", "status", "opened", "TTA", "TTR", "alerts")
    rows = [
        [
            f.id,
            f.title,
            f.priority,
            f.team,
            f.service,
            f.status,
            iso(f.opened_at) or "",
            fmt_duration(f.time_to_acknowledge),
            fmt_duration(f.time_to_resolve),
            str(f.alerts),
        ]
        for f in report.incidents
    ]
    return _table(header, rows) if rows else "<p>(no incidents)</p>"
