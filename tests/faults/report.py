"""Summarise a fault-suite run as the Markdown table of RESULTS.md.

FAULTS_RESULTS_FILE=/tmp/faults.jsonl .venv/bin/pytest tests/faults -p no:randomly
.venv/bin/python tests/faults/report.py /tmp/faults.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = [
    ("iterations", "iterations"),
    ("alerts_sent", "alerts sent"),
    ("alerts_accepted", "accepted (202)"),
    ("alerts_processed", "processed"),
    ("incidents_expected", "incidents expected"),
    ("incidents_found", "found"),
    ("tickets_expected", "tickets expected"),
    ("tickets_found", "found"),
    ("recover_s", "time to recover (s)"),
]
SHOWN = {key for key, _ in COLUMNS} | {"fault", "recover_note"}


def cell(row: dict[str, Any], key: str) -> str:
    """One table cell; a dash where the figure does not apply."""
    value = row.get(key)
    return "-" if value is None else str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table, one line per fault, then each fault's other figures."""
    lines = [
        "| fault | " + " | ".join(title for _, title in COLUMNS) + " |",
        "| --- |" + " ---: |" * len(COLUMNS),
    ]
    for row in rows:
        lines.append(f"| {row['fault']} | " + " | ".join(cell(row, k) for k, _ in COLUMNS) + " |")
    lines.append("")
    for row in rows:
        extra = {k: v for k, v in sorted(row.items()) if k not in SHOWN}
        note = row.get("recover_note", "")
        figures = ", ".join(f"{k} {v}" for k, v in extra.items())
        lines.append(f"- **{row['fault']}**: recover = {note}; {figures}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the table for the JSON-lines file given."""
    if len(argv) != 1:
        print("usage: report.py RESULTS.jsonl", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in Path(argv[0]).read_text().splitlines() if line.strip()]
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
