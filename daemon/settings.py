"""Typed configuration sections; the one place that says what a valid config is.

Loading (YAML, environment overrides, secrets files, error collection) lives in
``daemon/config_loader.py`` so this module stays a readable schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from daemon.api_settings import ApiSettings, OutboundSettings, TlsSettings
from daemon.correlation_settings import CorrelationSettings, GroupRoute  # noqa: F401  (re-exported)
from daemon.lifecycle_settings import EscalationSettings, Route, RoutingSettings, StakeholderSettings
from daemon.matchers import Matcher, check_matchers, parse_matcher
from daemon.models import check_priority
from daemon.outbound_sessions import ca_context
from daemon.units import ByteSize, Duration

DEFAULT_PORT = 9795


class Section(BaseModel):
    """Base for every section: immutable, and unknown keys are errors (typos must not pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SqliteStoreSettings(Section):
    """The embedded default: one file, WAL, no server."""

    kind: Literal["sqlite"] = "sqlite"
    path: Path = Path("triaged-data/triaged.db")
    # FULL fsyncs every commit, so a 202 survives power loss; NORMAL survives a
    # process crash only. Commits are grouped, so FULL costs one fsync per batch.
    synchronous: Literal["full", "normal"] = "full"


class RedisStoreSettings(Section):
    """Shared state for many replicas: streams, atomic updates, reclaim of crashed work."""

    kind: Literal["redis"]
    # redis://[[user]:password@]host:port/db, rediss:// for TLS, unix:///path.sock
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # A password kept apart from the URL (read from a file or TRIAGED_STORE__PASSWORD).
    password: SecretStr | None = None
    password_file: Path | None = None
    # Every key triaged writes starts with "<prefix>:"; several deployments can share a Redis.
    prefix: str = Field(default="triaged", pattern=r"^[A-Za-z0-9_.-]+$")
    # A replica's unacknowledged intake entries are taken over by another after this long.
    claim_idle: Duration = 30.0
    # Resolved incidents and alerts expire this long after their last change.
    retention: Duration = 30 * 86400.0
    # Per-command socket timeout, and the connect timeout.
    timeout: Duration = 5.0
    connect_timeout: Duration = 2.0

    @model_validator(mode="after")
    def _one_password_origin(self) -> RedisStoreSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set password or password_file, not both")
        scheme = self.url.get_secret_value().partition("://")[0]
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError("url must start with redis://, rediss:// or unix://")
        return self


StoreSettings = Annotated[SqliteStoreSettings | RedisStoreSettings, Field(discriminator="kind")]


class IntakeSettings(Section):
    """Limits at the HTTP edge, so a flood turns into 413/503 instead of memory growth."""

    max_body_bytes: ByteSize = 1024 * 1024
    max_backlog: int = Field(default=200_000, gt=0)
    retry_after: Duration = 5.0
    # Per request: more alerts than this is a 413 (Alertmanager's max_alerts keeps batches small).
    max_alerts: int = Field(default=1000, gt=0)
    # Per alert: over these, that alert is rejected by index; the rest of the batch is kept.
    max_labels: int = Field(default=64, gt=0)
    max_key_length: int = Field(default=128, gt=0)
    max_value_length: int = Field(default=16384, gt=0)
    # JSON nested deeper than this is a 400 before any parser sees it.
    max_depth: int = Field(default=32, gt=1, le=500)


class SourceSettings(Section):
    """One sender's endpoint: whether it is on, and what it must present (every configured check).

    Checks combine with AND: a bearer token, HTTP basic, an HMAC-SHA256 signature over
    the body (with a timestamp within ``hmac_tolerance``), and a client-address allow-list.
    """

    enabled: bool = True
    token: SecretStr | None = None
    token_file: Path | None = None
    basic_username: str | None = None
    basic_password: SecretStr | None = None
    hmac_secret: SecretStr | None = None
    # None: the sender's own header (grafana: X-Grafana-Alerting-Signature, else X-Triaged-Signature).
    hmac_header: str | None = None
    # None: grafana signs without a timestamp unless told; every other sender: X-Triaged-Timestamp.
    hmac_timestamp_header: str | None = None
    hmac_tolerance: Duration = 300.0
    # CIDRs allowed to call this endpoint; empty: any address.
    allow_ips: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_token_origin(self) -> SourceSettings:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set token or token_file, not both")
        if (self.basic_username is None) != (self.basic_password is None):
            raise ValueError("set basic_username and basic_password together")
        return self

    @field_validator("allow_ips")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for text in value:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f"expected CIDRs such as 10.0.0.0/8, got {text!r}") from None
        return value


class CloudwatchSourceSettings(SourceSettings):
    """AWS CloudWatch alarms via SNS: signature checks and subscription confirmation."""

    # Refuse SNS messages whose signature does not verify against the SigningCertURL certificate.
    verify_signature: bool = True
    # The certificate is fetched only from URLs matching this (SNS's own hosts by default).
    cert_url_pattern: str = (
        r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/SimpleNotificationService-[0-9a-f]+\.pem$"
    )
    # Confirm a SubscriptionConfirmation by GET of its SubscribeURL (only if it matches the pattern).
    auto_confirm: bool = False
    subscribe_url_pattern: str = (
        r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/\?Action=ConfirmSubscription&"
    )
    # Only these topics are accepted; empty: any topic.
    topic_arns: list[str] = Field(default_factory=list)

    @field_validator("cert_url_pattern", "subscribe_url_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a regular expression: {err}") from None
        return value


_SAME_STATUS: dict[str, Literal["firing", "resolved"]] = {"firing": "firing", "resolved": "resolved"}


class GenericMapping(Section):
    """Where a generic JSON body keeps each alert field: JSON pointers (RFC 6901) or templates.

    A template is a string with ``{/json/pointer}`` placeholders, e.g. ``"{/host} down"``;
    pointers inside ``alerts`` are relative to each alert, ``$`` pointers to the whole body.
    """

    # Pointer to the list of alerts; "" means the body is one alert.
    alerts: str = ""
    fingerprint: str | None = None
    status: str = "/status"
    # Sender status value -> firing|resolved; unknown values are rejected by index.
    status_map: dict[str, Literal["firing", "resolved"]] = Field(default_factory=lambda: dict(_SAME_STATUS))
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    # Labels whose values identify the alert when no fingerprint is mapped.
    identity: list[str] = Field(default_factory=list)
    starts_at: str | None = None
    generator_url: str | None = None

    @model_validator(mode="after")
    def _valid_mapping(self) -> GenericMapping:
        from daemon.sources.pointer import check_template

        if "alertname" not in self.labels:
            raise ValueError("labels must map alertname")
        for text in (self.alerts, self.status, self.fingerprint, self.starts_at, self.generator_url):
            if text:
                check_template(text)
        for text in (*self.labels.values(), *self.annotations.values()):
            check_template(text)
        missing = [k for k in self.identity if k not in self.labels]
        if missing:
            raise ValueError(f"identity names labels not in labels: {missing}")
        return self


class GenericSourceSettings(SourceSettings):
    """Any JSON sender, one named mapping each: ``POST /api/v1/alerts/generic/{name}``."""

    mappings: dict[str, GenericMapping] = Field(default_factory=dict)


class SourcesSettings(Section):
    """Every built-in sender, keyed by the name used in its URL."""

    alertmanager: SourceSettings = SourceSettings()
    grafana: SourceSettings = SourceSettings()
    datadog: SourceSettings = SourceSettings()
    zabbix: SourceSettings = SourceSettings()
    cloudwatch: CloudwatchSourceSettings = CloudwatchSourceSettings()
    generic: GenericSourceSettings = GenericSourceSettings()
    # POST /api/v1/reports: people and help-desk forms.
    report: SourceSettings = SourceSettings()


class TriageSettings(Section):
    """How priority is decided: the urgency model, ITIL impact inputs, and the rules file.

    Priority = impact x urgency (see ``classifiers/priority.py``), then the rules.
    """

    # "registry": the active model of ``registry`` (`triaged model promote`), else the
    # bundled one; "default": the model bundled with triaged; a directory holding
    # model.skops + model.json (from `triaged train`); "none": urgency from the label.
    model: str = "registry"
    # Where `triaged model promote|rollback` keep versions and the active pointer.
    registry: Path = Path("triaged-data/models")
    # How often the daemon looks for a promotion or rollback (one stat() per poll).
    registry_poll: Duration = 5.0
    # A candidate model scored on live traffic next to the active one; its predictions
    # are never used, only counted (triaged_model_shadow_disagreements_total).
    shadow_model: str | None = None
    # Declarative priority rules (format: config/rules.yaml); none by default.
    rules_file: Path | None = None
    # Label -> regular expression: a matching label makes an incident production.
    production: dict[str, str] = Field(
        default_factory=lambda: {"env": "prod.*", "environment": "prod.*", "cluster": "prod.*"}
    )
    # Service (label `service`) -> tier: 1 raises impact, 3 lowers it.
    tiers: dict[str, int] = Field(default_factory=dict)
    # An incident reaching any of these has a wide blast radius (impact raised).
    wide_alerts: int = Field(default=10, gt=0)
    wide_hosts: int = Field(default=5, gt=0)
    wide_services: int = Field(default=3, gt=0)

    @field_validator("tiers")
    @classmethod
    def _valid_tiers(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v not in (1, 2, 3)}
        if bad:
            raise ValueError(f"tiers must be 1, 2 or 3, got {bad}")
        return value

    @field_validator("rules_file")
    @classmethod
    def _valid_rules(cls, value: Path | None) -> Path | None:
        if value is not None:
            from classifiers.rules import RuleError, load_rules

            try:
                load_rules(value)
            except RuleError as err:
                raise ValueError("; ".join(err.problems)) from None
        return value


class PipelineSettings(Section):
    """How the pipeline takes work from the intake."""

    # false: this process only accepts webhooks into the intake (an ingest replica); the
    # replicas that share its Redis store process them. A storm's webhooks then never wait
    # on a pipeline batch for the core (docs/deployment.md).
    enabled: bool = True
    batch_size: int = Field(default=1000, gt=0, le=100_000)
    shutdown_timeout: Duration = 20.0


class ConnectorSettings(BaseModel):
    """One tracker: which connector (``kind``), which incidents go to it, and its own settings.

    Keys other than ``kind``, ``enabled``, ``matchers`` and ``min_priority`` belong to
    the connector and are checked against its ``Config`` (see ``connectors/``).
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: str
    enabled: bool = True
    # Only incidents whose labels match all of these (Alertmanager syntax) go to this tracker.
    matchers: list[str] = Field(default_factory=list)
    # Only incidents at this priority or more urgent (P1 is the most urgent).
    min_priority: str = "P5"
    # Two-way sync: the secret the tracker signs its webhooks with (or its token), for
    # POST /api/v1/inbound/<name> (docs/inbound.md); unset: inbound refused.
    inbound_secret: SecretStr | None = None
    # PEM file of the CA(s) that sign the tracker's certificate (an on-premises Jira or
    # ServiceNow behind a private CA); these replace the system's roots for this tracker.
    ca_file: Path | None = None

    @field_validator("ca_file")
    @classmethod
    def _valid_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            ca_context(value)  # refused now, not at the first delivery
        return value

    @field_validator("matchers")
    @classmethod
    def _valid_matchers(cls, value: list[str]) -> list[str]:
        return check_matchers(value)

    @field_validator("min_priority")
    @classmethod
    def _valid_priority(cls, value: str) -> str:
        return check_priority(value)

    @model_validator(mode="after")
    def _valid_connector(self) -> ConnectorSettings:
        from connectors import CONNECTORS

        cls = CONNECTORS.get(self.kind)
        if cls is None:
            raise ValueError(f"unknown connector kind {self.kind!r}; known: {', '.join(sorted(CONNECTORS))}")
        try:
            cls.Config.model_validate(self.options())
        except ValidationError as err:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or self.kind}: {e['msg']}"
                for e in err.errors(include_url=False)
            ]
            raise ValueError("; ".join(problems)) from None
        return self

    def options(self) -> dict[str, Any]:
        """The connector's own settings (everything but the routing keys)."""
        extra = dict(self.model_extra or {})
        extra["kind"] = self.kind
        return extra

    def parsed_matchers(self) -> tuple[Matcher, ...]:
        """The matchers, parsed."""
        return tuple(parse_matcher(t) for t in self.matchers)


class DeliverySettings(Section):
    """Retries, circuit breaking and dead-lettering of tracker deliveries."""

    base_delay: Duration = 1.0
    max_delay: Duration = 300.0
    max_attempts: int = Field(default=50, gt=0)
    breaker_failures: int = Field(default=5, gt=0)
    breaker_cooldown: Duration = 30.0
    # A claimed job is not handed to another worker for this long (a call in flight).
    lease: Duration = 60.0
    # Link back to triaged in tickets: <public_url>/api/v1/incidents/<id>.
    public_url: str = ""


class LoggingSettings(Section):
    """Log level and rendering (``auto``: console on a terminal, JSON lines otherwise)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(Section):
    """The whole configuration; every field has a default, so no file is needed."""

    listen: str = f"127.0.0.1:{DEFAULT_PORT}"
    store: StoreSettings = SqliteStoreSettings()
    intake: IntakeSettings = IntakeSettings()
    sources: SourcesSettings = SourcesSettings()
    correlation: CorrelationSettings = CorrelationSettings()
    triage: TriageSettings = TriageSettings()
    pipeline: PipelineSettings = PipelineSettings()
    connectors: dict[str, ConnectorSettings] = Field(default_factory=dict)
    delivery: DeliverySettings = DeliverySettings()
    logging: LoggingSettings = LoggingSettings()
    routing: RoutingSettings = RoutingSettings()
    escalation: EscalationSettings = EscalationSettings()
    stakeholders: StakeholderSettings = StakeholderSettings()
    # Security: API tokens and scopes, HTTPS on the listener, outbound target guard (docs/security.md).
    api: ApiSettings = ApiSettings()
    tls: TlsSettings = TlsSettings()
    outbound: OutboundSettings = OutboundSettings()

    @model_validator(mode="after")
    def _known_names(self) -> Settings:
        """Routes, escalation steps and stakeholders may only name what is configured."""
        problems = []
        connectors, policies = set(self.connectors), set(self.escalation.policies)

        def walk(route: RoutingSettings | Route, where: str) -> None:
            for name in route.connectors or []:
                if name not in connectors:
                    problems.append(f"{where}.connectors: no connector {name!r} (have: {sorted(connectors)})")
            if route.escalation is not None and route.escalation not in policies:
                problems.append(
                    f"{where}.escalation: no policy {route.escalation!r} (have: {sorted(policies)})"
                )
            for i, child in enumerate(route.routes):
                walk(child, f"{where}.routes[{i}]")

        walk(self.routing, "routing")
        for name, policy in self.escalation.policies.items():
            for i, step in enumerate(policy.steps):
                for target in step.notify:
                    if target not in connectors:
                        problems.append(
                            f"escalation.policies.{name}.steps[{i}].notify: no connector {target!r}"
                        )
        if self.stakeholders.connector is not None and self.stakeholders.connector not in connectors:
            problems.append(f"stakeholders.connector: no connector {self.stakeholders.connector!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("store", mode="before")
    @classmethod
    def _sqlite_unless_said(cls, value: object) -> object:
        """``kind`` may be omitted: the embedded store is the default."""
        if isinstance(value, dict) and "kind" not in value:
            return {**value, "kind": "sqlite"}
        return value

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        parse_listen(value)
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:PORT`` for IPv6); raises ValueError naming the expectation."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:{DEFAULT_PORT}, got {value!r}")
    return host.strip("[]"), int(port)
