"""The HTML report's charts, drawn with matplotlib (Agg, no display) as inline SVG strings.

Imported only by the HTML renderer: matplotlib takes about half a second to load, which
the Markdown and JSON reports and the daemon itself should not pay.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from daemon.reports.kpi import IncidentFacts, percentile

PRIORITY_COLOURS = {"P1": "#b2182b", "P2": "#ef8a62", "P3": "#fddbc7", "P4": "#d1e5f0", "P5": "#67a9cf"}
OTHER_COLOUR = "#999999"
DAY = 86400.0


def _svg(fig: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog) ready to inline in HTML."""
    buf = io.StringIO()
    # A fixed, per-chart salt keeps the output reproducible and the element ids of two
    # charts on one page distinct; text stays text (smaller, searchable).
    with plt.rc_context({"svg.hashsalt": f"triaged-{name}", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _empty(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this range", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _buckets(since: float, until: float) -> tuple[float, str]:
    """Bucket width and label format: hours for ranges up to two days, else days."""
    return (3600.0, "%m-%d %H:00") if until - since <= 2 * DAY else (DAY, "%Y-%m-%d")


def incidents_over_time(items: Sequence[IncidentFacts], since: float, until: float) -> str:
    """Stacked bars: incidents opened per hour or day, by priority."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if not items:
        _empty(ax, "incidents")
    else:
        width, fmt = _buckets(since, until)
        start = min(f.opened_at for f in items) // width * width
        n = int((max(f.opened_at for f in items) - start) // width) + 1
        priorities = sorted({f.priority for f in items})
        bottom = [0] * n
        for p in priorities:
            counts = [0] * n
            for f in items:
                if f.priority == p:
                    counts[int((f.opened_at - start) // width)] += 1
            ax.bar(range(n), counts, bottom=bottom, label=p, color=PRIORITY_COLOURS.get(p, OTHER_COLOUR))
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        step = max(1, n // 8)
        ticks = list(range(0, n, step))
        labels = [datetime.fromtimestamp(start + i * width, UTC).strftime(fmt) for i in ticks]
        ax.set_xticks(ticks, labels, rotation=30, ha="right")
        ax.set_ylabel("incidents opened")
        ax.legend(title="priority", fontsize="small")
    ax.set_title("Incidents over time by priority")
    return _svg(fig, "incidents")


def mttr_distribution(items: Sequence[IncidentFacts]) -> str:
    """Histogram of time to resolve (hours), with the median and p90 marked."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    hours = sorted(t / 3600.0 for f in items if (t := f.time_to_resolve) is not None)
    if not hours:
        _empty(ax, "resolved incidents")
    else:
        ax.hist(hours, bins=min(30, max(5, len(hours))), color="#4575b4")
        for q, style in ((0.5, "--"), (0.9, ":")):
            value = percentile(hours, q)
            ax.axvline(value, color="black", linestyle=style, label=f"p{int(q * 100)} = {value:.2f} h")
        ax.set_xlabel("hours from opened to resolved")
        ax.set_ylabel("incidents")
        ax.legend(fontsize="small")
    ax.set_title("Time to resolve (MTTR distribution)")
    return _svg(fig, "mttr")


def noise_reduction(items: Sequence[IncidentFacts]) -> str:
    """Per priority: notifications received against incidents opened (what grouping saved)."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if not items:
        _empty(ax, "incidents")
    else:
        priorities = sorted({f.priority for f in items})
        notes = [sum(f.notifications for f in items if f.priority == p) for p in priorities]
        incidents = [sum(1 for f in items if f.priority == p) for p in priorities]
        xs = range(len(priorities))
        ax.bar([x - 0.2 for x in xs], notes, width=0.4, label="alert notifications", color="#91bfdb")
        ax.bar([x + 0.2 for x in xs], incidents, width=0.4, label="incidents", color="#fc8d59")
        ax.set_xticks(list(xs), priorities)
        ax.set_ylabel("count")
        ax.legend(fontsize="small")
    ax.set_title("Noise reduction: notifications vs incidents")
    return _svg(fig, "noise")
