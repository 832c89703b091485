"""A ServiceNow incident export (CSV event log) reduced to the same KPIs, for comparison.

The method is the one in ``data/servicenow-incidents/README.md`` ("Reference KPIs"), so
the figures can be checked by hand against that table: the last row of each incident
(in file order) holds its final values; MTTR is ``resolved_at - opened_at`` over
incidents with both set; "never reassigned" is the first-time-fix proxy; a reopen is
``reopen_count > 0``. The export may be the CSV itself or a zip holding one CSV.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from daemon.reports.kpi import Stats, stats

MISSING = "?"
TIME_FORMAT = "%d/%m/%Y %H:%M"
REQUIRED = (
    "number",
    "incident_state",
    "reassignment_count",
    "reopen_count",
    "made_sla",
    "opened_at",
    "priority",
    "resolved_at",
)
ALL = "all"


class ExportError(ValueError):
    """The file is not a ServiceNow incident export we can read (the message says why)."""


@dataclass(frozen=True, slots=True)
class PriorityRow:
    """One line of the reference table: a priority, or all incidents together."""

    priority: str
    incidents: int
    closed: int
    resolved_at_set: int
    mttr_hours: Stats
    never_reassigned: int
    reopened: int
    made_sla: int

    def to_json(self) -> dict[str, Any]:
        """A plain mapping; shares are over all incidents of the row."""
        return {
            "priority": self.priority,
            "incidents": self.incidents,
            "closed": self.closed,
            "resolved_at_set": self.resolved_at_set,
            "mttr_hours": self.mttr_hours.to_json(),
            "never_reassigned": self.never_reassigned,
            "never_reassigned_rate": self.never_reassigned / self.incidents,
            "reopened": self.reopened,
            "reopen_rate": self.reopened / self.incidents,
            "made_sla": self.made_sla,
            "made_sla_rate": self.made_sla / self.incidents,
        }


@dataclass(frozen=True, slots=True)
class ServiceNowSummary:
    """The export's KPIs per final priority plus ``all``; ``events`` counts CSV data rows."""

    source: str
    events: int
    rows: list[PriorityRow]

    def row(self, priority: str) -> PriorityRow:
        """The row of one priority (or ``all``)."""
        for r in self.rows:
            if r.priority == priority:
                return r
        raise KeyError(priority)

    def to_json(self) -> dict[str, Any]:
        """A plain mapping."""
        return {"source": self.source, "events": self.events, "rows": [r.to_json() for r in self.rows]}


def read_export(path: Path) -> ServiceNowSummary:
    """Read the export and compute the reference KPIs; ``ExportError`` for anything unreadable."""
    try:
        with _open_text(path) as text:
            finals, events = _final_rows(csv.DictReader(text), path)
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError, csv.Error) as err:
        raise ExportError(f"{path}: cannot read the ServiceNow export: {err}") from None
    if not finals:
        raise ExportError(f"{path}: no incident rows")
    by_priority: dict[str, list[dict[str, str]]] = {}
    for row in finals.values():
        by_priority.setdefault(row["priority"], []).append(row)
    rows = [_summarize(p, by_priority[p], path) for p in sorted(by_priority)]
    rows.append(_summarize(ALL, list(finals.values()), path))
    return ServiceNowSummary(str(path), events, rows)


@contextlib.contextmanager
def _open_text(path: Path) -> Iterator[IO[str]]:
    """The CSV as text, read straight out of a zip when given one (no unpacking to disk)."""
    with contextlib.ExitStack() as stack:
        if zipfile.is_zipfile(path):
            archive = stack.enter_context(zipfile.ZipFile(path))
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                raise ExportError(f"{path}: expected one .csv in the zip, found {len(members)}")
            raw = stack.enter_context(archive.open(members[0]))
            yield stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        else:
            yield stack.enter_context(path.open(encoding="utf-8", newline=""))


def _final_rows(reader: csv.DictReader[str], path: Path) -> tuple[dict[str, dict[str, str]], int]:
    """Each incident's last row in file order (dicts keep first-insertion order)."""
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise ExportError(f"{path}: not a ServiceNow incident export: missing columns {', '.join(missing)}")
    finals: dict[str, dict[str, str]] = {}
    events = 0
    for row in reader:
        events += 1
        finals[row["number"]] = row
    return finals, events


def _summarize(priority: str, rows: list[dict[str, str]], path: Path) -> PriorityRow:
    return PriorityRow(
        priority=priority,
        incidents=len(rows),
        closed=sum(r["incident_state"] == "Closed" for r in rows),
        resolved_at_set=sum(r["resolved_at"] != MISSING for r in rows),
        mttr_hours=stats(_hours_to_resolve(rows, path)),
        never_reassigned=sum(_int(r, "reassignment_count", path) == 0 for r in rows),
        reopened=sum(_int(r, "reopen_count", path) > 0 for r in rows),
        made_sla=sum(r["made_sla"] == "true" for r in rows),
    )


def _hours_to_resolve(rows: list[dict[str, str]], path: Path) -> Iterator[float]:
    for r in rows:
        if r["resolved_at"] == MISSING or r["opened_at"] == MISSING:
            continue
        delta = _time(r, "resolved_at", path) - _time(r, "opened_at", path)
        yield delta.total_seconds() / 3600.0


def _time(row: dict[str, str], column: str, path: Path) -> datetime:
    try:
        return datetime.strptime(row[column], TIME_FORMAT)
    except ValueError:
        raise ExportError(
            f"{path}: incident {row['number']}: {column}: expected d/m/yyyy HH:MM, got {row[column]!r}"
        ) from None


def _int(row: dict[str, str], column: str, path: Path) -> int:
    try:
        return int(row[column])
    except ValueError:
        raise ExportError(
            f"{path}: incident {row['number']}: {column}: expected a count, got {row[column]!r}"
        ) from None


def fmt_hours(value: float | None) -> str:
    """Hours with two decimals, as the README's table shows them."""
    return "-" if value is None or math.isnan(value) else f"{value:.2f}"
