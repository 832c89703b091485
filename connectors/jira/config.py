"""Settings shared by Jira Cloud and Jira Server / Data Center, and the priority table.

Priority and transition names are per site (a priority scheme, a workflow), so they are
configuration; the defaults are Jira's own defaults (the priority scheme of every new
site since Jira 7, and the "Done" transition of Jira Cloud's simplified workflows).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from connectors.base import PRIORITIES, ConnectorConfig

# Our priority -> Jira priority name, as in Jira's default priority scheme.
DEFAULT_PRIORITIES: dict[str, str] = {
    "P1": "Highest",
    "P2": "High",
    "P3": "Medium",
    "P4": "Low",
    "P5": "Lowest",
}
SUMMARY_LIMIT = 255  # Jira refuses longer summaries (400)


class JiraConfig(ConnectorConfig):
    """Where issues go (project, type), how priorities and statuses are named there."""

    project_key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")  # e.g. OPS
    issue_type: str = Field(default="Task", min_length=1)  # the issue type *name*
    # P1..P5 -> this site's priority names; {} never sets a priority (for projects whose
    # screens lack the field, where setting it is a 400).
    priorities: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    labels: list[str] = []  # added to every new issue, with the marker label
    # Transition (or target status) names, matched case-insensitively.
    resolve_transition: str = Field(default="Done", min_length=1)
    acknowledge_transition: str | None = None  # e.g. "In Progress"; None: acks are comments only
    resolution: str | None = None  # e.g. "Fixed", when the resolve transition's screen requires it
    refresh_description: bool = True  # rewrite the description (alert list) on every update

    @field_validator("priorities")
    @classmethod
    def _all_levels(cls, value: dict[str, str]) -> dict[str, str]:
        if value and set(value) != set(PRIORITIES):
            raise ValueError(f"map every level {', '.join(PRIORITIES)} to a Jira priority name, or none")
        if any(not name.strip() for name in value.values()):
            raise ValueError("priority names must not be empty")
        return value

    @field_validator("labels")
    @classmethod
    def _label_syntax(cls, value: list[str]) -> list[str]:
        for label in value:
            if not label or any(c.isspace() for c in label) or len(label) > 255:
                raise ValueError(f"Jira labels are 1-255 characters without spaces: {label!r}")
        return value
