"""The ServiceNow export: the report's figures equal the data README's hand-checkable reference table."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support import REPO, triaged_executable

from daemon.reports.servicenow import ExportError, read_export

DATA = REPO / "data" / "servicenow-incidents"
EXPORT = DATA / "incident_event_log.zip"
# A reference row of the README: priority | incidents | closed (%) | resolved_at set (%) | MTTR n |
# mean h | median h | never reassigned (%) | reopened (%) | made_sla true (%).
ROW = re.compile(r"^\| (\*\*all\*\*|\d - \w+) \|" + r" ([^|]+) \|" * 9 + r"$")


def reference_table() -> dict[str, list[str]]:
    """The README's "Reference KPIs" table, parsed from the README itself (not copied into the test)."""
    text = (DATA / "README.md").read_text()
    section = text.split("## Reference KPIs", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1).strip("*")] = [c.strip() for c in m.groups()[1:]]
    return rows


@pytest.fixture(scope="module")
def summary() -> Any:
    """The export read once for the module (46 MB of CSV inside the zip)."""
    return read_export(EXPORT)


def test_reference_table_is_the_one_in_the_readme() -> None:
    """The parser found all five rows (four priorities and all), so the comparison is not vacuous."""
    assert list(reference_table()) == ["1 - Critical", "2 - High", "3 - Moderate", "4 - Low", "all"]


def test_every_reference_figure_matches(summary: Any) -> None:
    """Counts exactly, shares and hours to the README's two decimals, per priority and overall."""
    for priority, cells in reference_table().items():
        row = summary.row(priority)
        incidents, closed, resolved_set, mttr_n, mean_h, median_h, never, reopened, sla = cells
        assert int(incidents) == row.incidents, priority

        def share(cell: str, count: int, priority: str = priority, total: int = row.incidents) -> None:
            n, pct = re.fullmatch(r"(\d+) \(([\d.]+)%\)", cell).groups()  # type: ignore[union-attr]
            assert int(n) == count, (priority, cell)
            assert f"{count / total * 100:.2f}" == pct, (priority, cell)

        share(closed, row.closed)
        share(resolved_set, row.resolved_at_set)
        share(never, row.never_reassigned)
        share(reopened, row.reopened)
        share(sla, row.made_sla)
        assert int(mttr_n) == row.mttr_hours.n
        assert f"{row.mttr_hours.mean:.2f}" == mean_h, priority
        assert f"{row.mttr_hours.median:.2f}" == median_h, priority


def test_unrounded_overall_values(summary: Any) -> None:
    """The README's unrounded figures for all incidents, and the data's shape."""
    overall = summary.row("all")
    assert overall.mttr_hours.mean == pytest.approx(178.1715820563308, abs=1e-9)
    assert overall.mttr_hours.median == pytest.approx(22.1, abs=1e-9)
    assert summary.events == 141_712
    assert overall.incidents == 24_918


def test_report_cli_includes_the_export(tmp_path: Path, summary: Any) -> None:
    """`triaged report --servicenow` puts the same figures in its JSON (here over an empty store)."""
    config = tmp_path / "c.yaml"
    db = tmp_path / "t.db"
    config.write_text(f"store: {{path: {db}}}\n")
    # An empty store must exist: a report never creates one by accident.
    missing = _run("report", "--since", "30d", "--config", str(config), "--servicenow", str(EXPORT))
    assert missing.returncode == 2
    assert "no database at" in missing.stderr
    assert "Traceback" not in missing.stderr
    import sqlite3

    sqlite3.connect(db).close()
    done = _run(
        "report", "--since", "30d", "--config", str(config), "--format", "json", "--servicenow", str(EXPORT)
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    rows = {r["priority"]: r for r in body["servicenow"]["rows"]}
    assert rows["all"]["mttr_hours"]["mean"] == summary.row("all").mttr_hours.mean
    assert rows["1 - Critical"]["never_reassigned"] == 112
    assert body["overall"]["incidents"] == 0
    md = _run("report", "--since", "30d", "--config", str(config), "--servicenow", str(EXPORT))
    assert "| all | 24918 | 24918 (100.00%) | 23362 (93.76%) | 23362 | 178.17 | 22.10 |" in md.stdout


def test_unreadable_exports_are_one_clear_line(tmp_path: Path) -> None:
    """A file that is not an export, a CSV missing columns, a zip without one CSV: exit 2, no traceback."""
    not_csv = tmp_path / "x.csv"
    not_csv.write_text("a,b\n1,2\n")
    with pytest.raises(ExportError, match="missing columns number, incident_state"):
        read_export(not_csv)
    empty_zip = tmp_path / "e.zip"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("notes.txt", "hi")
    with pytest.raises(ExportError, match=r"expected one \.csv in the zip, found 0"):
        read_export(empty_zip)
    bad_time = tmp_path / "t.csv"
    header = (DATA / "README.md").read_text().split("Columns, in order: `", 1)[1].split("`.", 1)[0]
    columns = [c.strip() for c in header.replace("`", "").replace("\n", " ").split(",")]
    row = {c: "?" for c in columns} | {
        "number": "INC1",
        "incident_state": "Closed",
        "reassignment_count": "0",
        "reopen_count": "0",
        "opened_at": "2016-02-29",
        "resolved_at": "1/3/2016 10:00",
        "priority": "3 - Moderate",
    }
    bad_time.write_text(",".join(columns) + "\n" + ",".join(row[c] for c in columns) + "\n")
    with pytest.raises(ExportError, match="INC1: opened_at: expected d/m/yyyy HH:MM, got '2016-02-29'"):
        read_export(bad_time)
    result = _run("report", "--since", "1d", "--servicenow", str(not_csv))
    assert result.returncode == 2
    assert result.stderr.startswith("triaged: --servicenow:")
    assert "Traceback" not in result.stderr
    gone = _run("report", "--since", "1d", "--servicenow", str(tmp_path / "nope.csv"))
    assert gone.returncode == 2
    assert "cannot read the ServiceNow export" in gone.stderr


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [triaged_executable(), *args], capture_output=True, text=True, timeout=120, check=False
    )
