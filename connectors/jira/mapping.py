"""What a Jira issue says, built once and rendered twice: ADF for Cloud, wiki markup for Server.

Jira Cloud's REST v3 takes descriptions and comments only as Atlassian Document Format
(a JSON tree; a plain string is a 400), while Jira Server / Data Center's REST v2 takes
wiki markup, where ``[x]`` is a link and ``{x}`` a macro, so alert text is escaped.
Also here: the status tables and JQL quoting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from connectors.base import IncidentRequest

# Jira status category key -> our status (categories are fixed; status names are not).
STATUS_CATEGORIES = {"new": "open", "indeterminate": "acknowledged", "done": "resolved"}
# How far along a category is: a transition "towards" a category never moves an issue back.
CATEGORY_RANK = {"undefined": 0, "new": 0, "indeterminate": 1, "done": 2}
MAX_ALERTS = 50  # keep descriptions far below Jira's 32,767-character field limit
TEXT_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text: plain, ``strong``, ``code``, or a link when ``href`` is set."""

    text: str
    style: str = ""
    href: str = ""


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (``p``), a heading (``h``) or a bullet list (``ul``, one item per line)."""

    kind: str
    lines: tuple[tuple[Span, ...], ...]


def _p(*spans: Span) -> Block:
    return Block("p", (spans,))


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def description(req: IncidentRequest) -> list[Block]:
    """The issue description: summary, priority and why, alerts, links back to triaged."""
    blocks = [_p(Span(_cut(req.summary, 4000)))] if req.summary else []
    reasons = "; ".join(req.reasons) or "no reason given"
    blocks.append(_p(Span(f"Priority {req.priority}", "strong"), Span(f": {reasons}")))
    if req.team:
        blocks.append(_p(Span("Team: "), Span(req.team, "code")))
    if req.group_labels:
        group = ", ".join(f"{k}={v}" for k, v in sorted(req.group_labels.items()))
        blocks.append(_p(Span("Group: "), Span(_cut(group), "code")))
    if req.alerts:
        blocks.append(Block("h", ((Span(f"Alerts ({len(req.alerts)})"),),)))
        lines = []
        for a in req.alerts[:MAX_ALERTS]:
            line = [Span(f"[{a.status}] "), Span(a.alertname, "strong")]
            if a.summary:
                line.append(Span(f": {_cut(a.summary)}"))
            if a.generator_url:
                line += [Span(" "), Span("source", href=a.generator_url)]
            lines.append(tuple(line))
        if len(req.alerts) > MAX_ALERTS:
            lines.append((Span(f"… and {len(req.alerts) - MAX_ALERTS} more"),))
        blocks.append(Block("ul", tuple(lines)))
    if req.url:
        blocks.append(_p(Span("triaged: "), Span(req.url, href=req.url)))
    blocks.append(_p(Span(f"triaged incident id: {req.incident_id} ("), Span(req.marker, "code"), Span(")")))
    return blocks


def update_comment(req: IncidentRequest) -> list[Block]:
    """The comment of an update: the note, and where the incident stands now."""
    firing = sum(1 for a in req.alerts if a.status == "firing")
    state = f"triaged: priority {req.priority}, {len(req.alerts)} alert(s), {firing} firing"
    return [_p(Span(_cut(req.note, 4000))), _p(Span(state))]


def resolve_comment(req: IncidentRequest) -> list[Block]:
    """The comment that goes with the resolving transition."""
    text = (
        f"Resolved by triaged: {req.note}" if req.note else "Resolved by triaged: every alert has resolved."
    )
    return [_p(Span(_cut(text, 4000)))]


# --- Atlassian Document Format (Jira Cloud, REST v3) ---


def to_adf(blocks: list[Block]) -> dict[str, Any]:
    """An ADF ``doc`` (version 1); empty text nodes, which ADF forbids, are left out."""
    content: list[dict[str, Any]] = []
    for block in blocks:
        if block.kind == "ul":
            items = [
                {"type": "listItem", "content": [{"type": "paragraph", "content": _adf_spans(line)}]}
                for line in block.lines
            ]
            content.append({"type": "bulletList", "content": items})
        elif block.kind == "h":
            content.append({"type": "heading", "attrs": {"level": 3}, "content": _adf_spans(block.lines[0])})
        else:
            content.append({"type": "paragraph", "content": _adf_spans(block.lines[0])})
    return {"type": "doc", "version": 1, "content": content}


def _adf_spans(spans: tuple[Span, ...]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for span in spans:
        if not span.text:
            continue
        node: dict[str, Any] = {"type": "text", "text": span.text}
        marks: list[dict[str, Any]] = [{"type": span.style}] if span.style else []
        if span.href:
            marks.append({"type": "link", "attrs": {"href": span.href}})
        if marks:
            node["marks"] = marks
        nodes.append(node)
    return nodes


def adf_text(node: Any) -> str:
    """The plain text of an ADF tree: block nodes on their own lines."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    parts = [adf_text(child) for child in node.get("content") or []]
    joiner = "" if node.get("type") in ("paragraph", "heading") else "\n"
    return joiner.join(parts)


# --- Wiki markup (Jira Server / Data Center, REST v2) ---

# Links, macros, tables and images anywhere; styles (*strong*, _em_, -strike-, +ins+,
# ^sup^, ~sub~, ??cite??) and list/heading marks only at a word's edge, so that
# ``prod-eu`` or ``inc_01`` stay readable in the raw text.
_WIKI_SPECIAL = re.compile(r"[\\\[\]{}|!]|(?<![0-9A-Za-z])[*_+^~?#-]|[*_+^~?#-](?![0-9A-Za-z])")


def wiki_escape(text: str) -> str:
    """Backslash-escape what wiki markup would read as a link, macro, table or style."""
    return _WIKI_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def to_wiki(blocks: list[Block]) -> str:
    """Wiki markup: ``*strong*``, ``{{code}}``, ``[text|url]``, ``h3.`` and ``*`` bullets."""
    out = []
    for block in blocks:
        if block.kind == "ul":
            out.append("\n".join("* " + _wiki_spans(line) for line in block.lines))
        elif block.kind == "h":
            out.append("h3. " + _wiki_spans(block.lines[0]))
        else:
            out.append(_wiki_spans(block.lines[0]))
    return "\n\n".join(out)


def _wiki_spans(spans: tuple[Span, ...]) -> str:
    parts = []
    for span in spans:
        if not span.text:
            continue
        text = wiki_escape(span.text)
        if span.href:
            href = span.href.replace("|", "%7C").replace("]", "%5D")
            parts.append(f"[{text}|{href}]")
        elif span.style == "strong":
            parts.append(f"*{text}*")
        elif span.style == "code":
            parts.append("{{" + text + "}}")
        else:
            parts.append(text)
    return "".join(parts)


def same_text(a: str, b: str) -> bool:
    """Equal up to whitespace (Jira may rewrite line endings and trailing spaces)."""
    return a.split() == b.split()


def jql_string(value: str) -> str:
    """A JQL string literal: double-quoted, with quotes and backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clean_summary(title: str, limit: int) -> str:
    """A summary Jira accepts: one line, at most ``limit`` characters."""
    line = " ".join(title.split()) or "triaged incident"
    return line if len(line) <= limit else line[: limit - 1] + "…"
