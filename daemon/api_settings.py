"""Config of who may call the API (tokens and scopes), the listener's TLS, and outbound targets.

Kept apart from ``daemon/settings.py`` so the security surface reads in one place;
``Settings`` references these sections as ``api``, ``tls`` and ``outbound``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Scope = Literal["ingest", "read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("ingest", "read", "write", "admin")
# A broader scope carries the narrower ones, so one admin token can do everything.
IMPLIED: dict[str, frozenset[str]] = {
    "ingest": frozenset({"ingest"}),
    "read": frozenset({"read"}),
    "write": frozenset({"write", "read"}),
    "admin": frozenset(SCOPES),
}
# Tokens shorter than this are guessable; refused at load.
MIN_TOKEN_LENGTH = 16


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApiToken(_Section):
    """One caller: a name for logs, a secret (inline or in a file), and what it may do."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    token: SecretStr | None = None
    token_file: Path | None = None
    scopes: list[Scope] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_token(self) -> ApiToken:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("set exactly one of token or token_file")
        if self.token is not None:
            _check_strength(self.token.get_secret_value())
        return self

    def secret(self) -> str:
        """The token, read from ``token_file`` if that is where it lives (``preflight`` reports failures).

        The file is read here, not at validation, so a config written for another
        machine still parses (``load_settings(read_secrets=False)``).
        """
        if self.token is not None:
            return self.token.get_secret_value()
        assert self.token_file is not None
        try:
            text = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ValueError(f"token_file: cannot read secret file: {err.strerror}") from None
        _check_strength(text)
        return text

    def digest(self) -> bytes:
        """SHA-256 of the token: what the middleware keeps and compares, never the token itself."""
        return hashlib.sha256(self.secret().encode()).digest()

    def granted(self) -> frozenset[str]:
        """Every scope this token carries, implied ones included."""
        return frozenset().union(*(IMPLIED[s] for s in self.scopes))


def _check_strength(token: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"token must be at least {MIN_TOKEN_LENGTH} characters")


class ApiSettings(_Section):
    """API authentication: off while no token is configured (then only a loopback listener may start)."""

    tokens: list[ApiToken] = Field(default_factory=list)
    # Serve without any token on a non-loopback address (e.g. behind an authenticating proxy).
    allow_unauthenticated: bool = False
    # /metrics without a token even when tokens are configured (a scraper on a trusted network).
    metrics_public: bool = False

    @field_validator("tokens", mode="before")
    @classmethod
    def _from_env(cls, value: object) -> object:
        """``TRIAGED_API__TOKENS`` arrives as text (secret-named keys stay strings): a YAML list."""
        if isinstance(value, str):
            import yaml

            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                raise ValueError("expected a YAML list of {name, token|token_file, scopes}") from None
        return value

    @field_validator("tokens")
    @classmethod
    def _unique(cls, value: list[ApiToken]) -> list[ApiToken]:
        names = [t.name for t in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"token names must be unique: {dupes}")
        inline = [t.token.get_secret_value() for t in value if t.token is not None]
        if len(set(inline)) != len(inline):
            raise ValueError("two tokens have the same secret")
        return value


class TlsSettings(_Section):
    """HTTPS on the listener: a PEM certificate chain and its key (both, or neither)."""

    cert_file: Path | None = None
    key_file: Path | None = None
    # The oldest protocol version accepted.
    min_version: Literal["1.2", "1.3"] = "1.2"

    @model_validator(mode="after")
    def _both(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("set cert_file and key_file together")
        return self

    @property
    def enabled(self) -> bool:
        """A certificate is configured."""
        return self.cert_file is not None


class OutboundSettings(_Section):
    """Where trackers and webhooks may be sent (the SSRF guard, ``connectors/ssrf.py``)."""

    # Allow link-local/cloud-metadata addresses and the daemon's own listener as targets.
    allow_private_targets: bool = False
    # Hosts, host:port pairs or CIDRs allowed even when the guard would refuse them.
    allowed_targets: list[str] = Field(default_factory=list)

    @field_validator("allowed_targets")
    @classmethod
    def _valid_targets(cls, value: list[str]) -> list[str]:
        for text in value:
            if not text or any(c.isspace() for c in text) or ("/" in text and not _is_cidr(text)):
                raise ValueError(f"expected a host, host:port or CIDR, got {text!r}")
        return value


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address: reachable from this machine only."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_problems(api: ApiSettings) -> list[str]:
    """Token files that cannot be read, are too short, or repeat another token's secret."""
    problems, seen = [], set()
    for i, token in enumerate(api.tokens):
        try:
            digest = token.digest()
        except ValueError as err:
            problems.append(f"api.tokens.{i}: {err}")
            continue
        if digest in seen:
            problems.append(f"api.tokens.{i}: the same secret as another token")
        seen.add(digest)
    return problems


def exposure_problem(listen_host: str, api: ApiSettings) -> str | None:
    """Why serving on ``listen_host`` would expose an unauthenticated API, or None when it would not."""
    if is_loopback_host(listen_host) or api.tokens or api.allow_unauthenticated:
        return None
    return (
        f"listen address {listen_host} is not loopback and no API token is configured: "
        "add api.tokens, or set api.allow_unauthenticated: true explicitly"
    )
