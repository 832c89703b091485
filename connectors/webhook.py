"""Generic outgoing webhook: a JSON POST per incident change, templated, optionally HMAC-signed.

The body is the incident as JSON, or ``body`` from the config with ``${field}``
placeholders (``incident_id``, ``title``, ``priority``, ``status``, ``summary``,
``url``, ``note``, ``action``, ``marker``, ``alert_count``) substituted into string
values, so JSON escaping is always right. Each request carries
``Idempotency-Key: <incident>:<action>:<n>`` so a receiver can drop the repeats that
at-least-once delivery implies. With ``hmac_secret`` set, ``X-Triaged-Signature:
sha256=<hex>`` signs ``<X-Triaged-Timestamp>.<body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from string import Template
from typing import Any, Literal

import aiohttp
import orjson
from pydantic import SecretStr

from connectors.base import ConnectorConfig, IncidentRef, IncidentRequest
from connectors.errors import ConnectorAuthError, ConnectorRejected
from connectors.http import send


class WebhookConfig(ConnectorConfig):
    """Where to POST, what to send, how to sign."""

    kind: Literal["webhook"] = "webhook"
    body: dict[str, Any] | None = None
    headers: dict[str, str] = {}
    hmac_secret: SecretStr | None = None
    bearer_token: SecretStr | None = None


class WebhookConnector:
    """POSTs every action to one URL."""

    name = "webhook"
    Config = WebhookConfig

    def __init__(self, config: WebhookConfig, session: aiohttp.ClientSession) -> None:
        self.config = config
        self.session = session

    async def open_incident(self, req: IncidentRequest) -> IncidentRef:
        """POST action ``open``; the receiver's ``id`` (if it answers one) becomes the key."""
        answer = await self._post("open", req)
        key = answer.get("id") if isinstance(answer, dict) else None
        return IncidentRef(key=str(key) if key else req.incident_id)

    async def update_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """POST action ``update``."""
        await self._post("update", req, ref)

    async def resolve_incident(self, ref: IncidentRef, req: IncidentRequest) -> None:
        """POST action ``resolve``."""
        await self._post("resolve", req, ref)

    async def healthcheck(self) -> None:
        """OPTIONS the URL: reachable and not refusing our credentials (no write)."""
        try:
            await send(
                self.session,
                "OPTIONS",
                str(self.config.endpoint),
                what="webhook check",
                timeout=self.config.timeout,
                headers=self._auth(),
            )
        except ConnectorAuthError:
            raise
        except ConnectorRejected:
            return  # 404/405 to OPTIONS still proves the server is there and lets us in

    async def _post(self, action: str, req: IncidentRequest, ref: IncidentRef | None = None) -> Any:
        body = orjson.dumps(self._body(action, req, ref))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"{req.incident_id}:{action}:{len(req.note)}:{req.status}",
            **self.config.headers,
            **self._auth(),
        }
        if self.config.hmac_secret is not None:
            stamp = str(int(time.time()))
            secret = self.config.hmac_secret.get_secret_value().encode()
            digest = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers["X-Triaged-Timestamp"] = stamp
            headers["X-Triaged-Signature"] = f"sha256={digest}"
        answer = await send(
            self.session,
            "POST",
            str(self.config.endpoint),
            what=f"webhook {action}",
            timeout=self.config.timeout,
            data=body,
            headers=headers,
        )
        return answer.body

    def _auth(self) -> dict[str, str]:
        token = self.config.bearer_token
        return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    def _body(self, action: str, req: IncidentRequest, ref: IncidentRef | None) -> Any:
        fields = {
            "action": action,
            "incident_id": req.incident_id,
            "title": req.title,
            "priority": req.priority,
            "status": req.status,
            "summary": req.summary,
            "url": req.url,
            "note": req.note,
            "marker": req.marker,
            "alert_count": str(len(req.alerts)),
            "remote_key": ref.key if ref else "",
        }
        if self.config.body is None:
            return {
                **fields,
                "alert_count": len(req.alerts),
                "alerts": [
                    {
                        "alertname": a.alertname,
                        "status": a.status,
                        "summary": a.summary,
                        "labels": a.labels,
                        "fingerprint": a.fingerprint,
                    }
                    for a in req.alerts
                ],
                "group_labels": req.group_labels,
                "reasons": list(req.reasons),
            }
        return _render(self.config.body, fields)


def _render(template: Any, fields: dict[str, str]) -> Any:
    """Substitute ``${field}`` in every string of a JSON-like template."""
    if isinstance(template, str):
        return Template(template).safe_substitute(fields)
    if isinstance(template, dict):
        return {k: _render(v, fields) for k, v in template.items()}
    if isinstance(template, list):
        return [_render(v, fields) for v in template]
    return template
