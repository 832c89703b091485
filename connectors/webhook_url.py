"""Config shared by trackers addressed by a secret URL (Slack, Teams): the URL is the credential.

The URL is held as a ``SecretStr`` from the first moment; ``endpoint`` (the base
class's public field) defaults to the URL's origin, and the URL must stay on that
origin, so error messages and reprs can name the endpoint without ever quoting the URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr, model_validator

from connectors.base import ConnectorConfig


class SecretUrlConfig(ConnectorConfig):
    """A ``webhook_url`` secret on ``endpoint``'s origin."""

    webhook_url: SecretStr

    @model_validator(mode="before")
    @classmethod
    def _endpoint_from_url(cls, data: Any) -> Any:
        """Hold the URL as a secret from the start; default ``endpoint`` to the URL's origin."""
        if not isinstance(data, dict):
            return data
        url = data.get("webhook_url")
        if isinstance(url, str):
            data = {**data, "webhook_url": SecretStr(url)}
            url = data["webhook_url"]
        if "endpoint" not in data and isinstance(url, SecretStr):
            parts = urlsplit(url.get_secret_value())
            if parts.scheme and parts.netloc:
                data = {**data, "endpoint": f"{parts.scheme}://{parts.netloc}/"}
        return data

    @model_validator(mode="after")
    def _url_on_endpoint(self) -> SecretUrlConfig:
        """The secret URL must be http(s) on ``endpoint``'s origin."""
        parts, base = urlsplit(self.webhook_url.get_secret_value()), urlsplit(str(self.endpoint))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook_url must be an http(s) URL")
        if _origin(parts) != _origin(base):
            raise ValueError(f"webhook_url is not on endpoint {base.scheme}://{base.netloc}")
        return self


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    """Scheme, host and port, the default port made explicit (``:443`` is the same origin)."""
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(parts.scheme)
