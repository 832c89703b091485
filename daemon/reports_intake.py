"""``POST /api/v1/reports``: a person or a help-desk form reports a problem; it becomes an alert.

Reports go through the same edge as webhooks (``daemon/ingest.py::accept``): the
``sources.report`` authentication and limits, one durable append, then 202, and the
pipeline triages them like any alert of source ``report``.
"""

from __future__ import annotations

from aiohttp import web

from daemon.errors import NotFound
from daemon.ingest import accept
from daemon.keys import SETTINGS
from daemon.sources import REPORT


async def submit_report(request: web.Request) -> web.Response:
    """202 ``{"accepted": 1}`` once the report is stored."""
    source = request.app[SETTINGS].sources.report
    if not source.enabled:
        raise NotFound("reports are disabled (sources.report.enabled)")
    return await accept(request, "report", REPORT, source)
