"""The ingestion edge over real loopback HTTP: per-source auth, limits, new senders, reports, SNS."""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from support import settle

from daemon.app import create_app
from daemon.auth import sign
from daemon.settings import Settings
from daemon.sources.sns import string_to_sign

from .test_senders import sns, vendor

Client = Callable[..., Any]


async def _client(aiohttp_client: Client, settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    return client


async def test_grafana_put_and_post_end_in_one_incident_each(
    aiohttp_client: Client, make_settings: Callable[..., Settings]
) -> None:
    """Grafana's documented body is accepted by POST and by PUT; incidents come out of the pipeline."""
    client = await _client(aiohttp_client, make_settings())
    body = vendor("grafana/firing.json")
    resp = await client.put("/api/v1/alerts/grafana", json=body)
    assert resp.status == 202
    assert await resp.json() == {"accepted": 2}
    resp = await client.post("/api/v1/alerts/grafana", json=body)
    assert resp.status == 202
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert sorted(i["alert_count"] for i in incidents) == [1, 1]


async def test_basic_auth(aiohttp_client: Client, make_settings: Callable[..., Settings]) -> None:
    """HTTP basic: wrong user, wrong password or none -> bare 401; both right -> 202."""
    settings = make_settings(sources={"datadog": {"basic_username": "dd", "basic_password": "s3cret-pw"}})
    client = await _client(aiohttp_client, settings)
    body = vendor("datadog/triggered.json")

    def basic(user: str, pw: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}

    for headers in ({}, basic("dd", "nope"), basic("x", "s3cret-pw"), {"Authorization": "Basic !!"}):
        resp = await client.post("/api/v1/alerts/datadog", json=body, headers=headers)
        assert resp.status == 401
        assert await resp.json() == {"error": "unauthorized"}
    resp = await client.post("/api/v1/alerts/datadog", json=body, headers=basic("dd", "s3cret-pw"))
    assert resp.status == 202


async def test_grafana_hmac_with_and_without_timestamp(
    aiohttp_client: Client, make_settings: Callable[..., Settings]
) -> None:
    """Grafana's signature over the body; with a timestamp header, over ts:body, and fresh only."""
    raw = json.dumps(vendor("grafana/firing.json")).encode()
    client = await _client(aiohttp_client, make_settings(sources={"grafana": {"hmac_secret": "k"}}))
    url = "/api/v1/alerts/grafana"
    ok = await client.post(url, data=raw, headers={"X-Grafana-Alerting-Signature": sign(b"k", raw)})
    assert ok.status == 202
    bad = await client.post(url, data=raw + b" ", headers={"X-Grafana-Alerting-Signature": sign(b"k", raw)})
    assert bad.status == 401

    timed = make_settings(sources={"grafana": {"hmac_secret": "k", "hmac_timestamp_header": "X-Ts"}})
    client = await _client(aiohttp_client, timed)
    now = str(int(time.time()))
    headers = {"X-Grafana-Alerting-Signature": sign(b"k", raw, now), "X-Ts": now}
    assert (await client.post(url, data=raw, headers=headers)).status == 202
    old = str(int(time.time()) - 3600)  # a captured request replayed an hour later
    headers = {"X-Grafana-Alerting-Signature": sign(b"k", raw, old), "X-Ts": old}
    assert (await client.post(url, data=raw, headers=headers)).status == 401
    headers = {"X-Grafana-Alerting-Signature": sign(b"k", raw, now), "X-Ts": "garbage"}
    assert (await client.post(url, data=raw, headers=headers)).status == 401


async def test_triaged_signature_scheme_requires_timestamp(
    aiohttp_client: Client, make_settings: Callable[..., Settings]
) -> None:
    """Other senders: X-Triaged-Signature over '<X-Triaged-Timestamp>:<body>'; no timestamp -> 401."""
    client = await _client(aiohttp_client, make_settings(sources={"zabbix": {"hmac_secret": "zz"}}))
    raw = json.dumps(vendor("zabbix/problem.json")).encode()
    url = "/api/v1/alerts/zabbix"
    assert (await client.post(url, data=raw, headers={"X-Triaged-Signature": sign(b"zz", raw)})).status == 401
    now = str(int(time.time()))
    headers = {"X-Triaged-Signature": "sha256=" + sign(b"zz", raw, now), "X-Triaged-Timestamp": now}
    assert (await client.post(url, data=raw, headers=headers)).status == 202


async def test_ip_allow_list(aiohttp_client: Client, make_settings: Callable[..., Settings]) -> None:
    """A request from outside allow_ips is refused even with no other check configured."""
    client = await _client(aiohttp_client, make_settings(sources={"zabbix": {"allow_ips": ["10.0.0.0/8"]}}))
    resp = await client.post("/api/v1/alerts/zabbix", json=vendor("zabbix/problem.json"))
    assert resp.status == 401
    client = await _client(aiohttp_client, make_settings(sources={"zabbix": {"allow_ips": ["127.0.0.0/8"]}}))
    resp = await client.post("/api/v1/alerts/zabbix", json=vendor("zabbix/problem.json"))
    assert resp.status == 202


async def test_limits(aiohttp_client: Client, make_settings: Callable[..., Settings]) -> None:
    """Too many alerts -> 413; too deep -> 400; an alert over a label limit is rejected by index."""
    limits = {"max_alerts": 2, "max_depth": 6, "max_labels": 7, "max_value_length": 200}
    client = await _client(aiohttp_client, make_settings(intake=limits))
    body = vendor("grafana/firing.json")
    three = {**body, "alerts": body["alerts"] * 2}
    resp = await client.post("/api/v1/alerts/grafana", json=three)
    assert resp.status == 413
    assert "intake.max_alerts" in (await resp.json())["error"]
    deep: Any = "x"
    for _ in range(10):
        deep = [deep]
    resp = await client.post("/api/v1/alerts/grafana", json={**body, "extra": deep})
    assert resp.status == 400
    assert "intake.max_depth" in (await resp.json())["error"]
    wide = json.loads(json.dumps(body))
    wide["alerts"][0]["labels"].update({f"l{i}": "v" for i in range(5)})
    resp = await client.post("/api/v1/alerts/grafana", json=wide)
    answer = await resp.json()
    assert resp.status == 202
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["where"] == "alerts[0]"
    assert "max_labels" in answer["rejected"][0]["error"]
    long_report = {"title": "x", "description": "y" * 201}
    resp = await client.post("/api/v1/reports", json=long_report)
    assert resp.status == 400
    assert "max_value_length" in (await resp.json())["error"]


async def test_report_goes_through_the_pipeline(client: TestClient[Any, Any]) -> None:
    """POST /api/v1/reports -> 202, then an incident whose alert has source 'report' (both stores)."""
    body = {
        "title": "Checkout is slow",
        "description": "10 s per page",
        "reporter": "alice",
        "service": "checkout",
        "impact": "high",
    }
    resp = await client.post("/api/v1/reports", json=body)
    assert resp.status == 202
    assert await resp.json() == {"accepted": 1}
    resp = await client.post("/api/v1/reports", json={"title": ""})
    assert resp.status == 400
    assert "title" in (await resp.json())["error"]
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    detail = await (await client.get(f"/api/v1/incidents/{incidents[0]['id']}")).json()
    assert detail["alerts"][0]["source"] == "report"


async def test_generic_mapping_route(aiohttp_client: Client, make_settings: Callable[..., Settings]) -> None:
    """A configured mapping is served at /api/v1/alerts/generic/<name>; an unknown name is 404."""
    mapping = {
        "alerts": "/events",
        "status": "/state",
        "status_map": {"down": "firing", "up": "resolved"},
        "labels": {"alertname": "{/monitor} down"},
        "fingerprint": "/id",
    }
    client = await _client(
        aiohttp_client, make_settings(sources={"generic": {"mappings": {"kuma": mapping}}})
    )
    body = {"events": [{"id": 7, "monitor": "web", "state": "down"}, {"monitor": "x", "state": "?"}]}
    resp = await client.post("/api/v1/alerts/generic/kuma", json=body)
    answer = await resp.json()
    assert resp.status == 202
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["where"] == "alerts[1]"
    resp = await client.post("/api/v1/alerts/generic/nope", json=body)
    assert resp.status == 404
    assert "kuma" in (await resp.json())["error"]


class FakeSns:
    """A loopback stand-in for SNS's certificate host and SubscribeURL, with our own key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        self.confirmations = 0
        self.app = web.Application()
        self.app.router.add_get("/SimpleNotificationService-abc.pem", self._cert)
        self.app.router.add_get("/confirm", self._confirm)

    async def _cert(self, request: web.Request) -> web.Response:
        return web.Response(body=self.pem)

    async def _confirm(self, request: web.Request) -> web.Response:
        self.confirmations += 1
        return web.Response(text="<ConfirmSubscriptionResponse/>")

    def signed(self, message: dict[str, Any], base: str, version: str = "1") -> dict[str, Any]:
        """``message`` signed as SNS signs it (SHA1 for version 1, SHA256 for 2)."""
        out = {
            **message,
            "SignatureVersion": version,
            "SigningCertURL": f"{base}/SimpleNotificationService-abc.pem",
        }
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(string_to_sign(out), padding.PKCS1v15(), algorithm)
        out["Signature"] = base64.b64encode(signature).decode()
        return out


async def test_sns_signature_and_subscription(
    aiohttp_server: Callable[..., Any], aiohttp_client: Client, make_settings: Callable[..., Settings]
) -> None:
    """Signed SNS messages (v1, v2) pass; tampered or foreign-cert ones get 401; confirmation is a GET."""
    fake = FakeSns()
    server = await aiohttp_server(fake.app)
    base = f"http://127.0.0.1:{server.port}"
    cw = {
        "cert_url_pattern": r"^http://127\.0\.0\.1:\d+/SimpleNotificationService-[a-z]+\.pem$",
        "subscribe_url_pattern": r"^http://127\.0\.0\.1:\d+/confirm",
        "auto_confirm": True,
    }
    client = await _client(aiohttp_client, make_settings(sources={"cloudwatch": cw}))
    url = "/api/v1/alerts/cloudwatch"
    for version in ("1", "2"):
        resp = await client.post(url, json=fake.signed(sns("alarm.json"), base, version))
        assert resp.status == 202, await resp.text()
    tampered = fake.signed(sns("alarm.json"), base)
    tampered["Message"] = tampered["Message"].replace("ALARM", "OK")
    assert (await client.post(url, json=tampered)).status == 401
    foreign = fake.signed(sns("alarm.json"), base)
    foreign["SigningCertURL"] = "https://evil.example/SimpleNotificationService-abc.pem"
    assert (await client.post(url, json=foreign)).status == 401
    assert (await client.post(url, json=sns("alarm.json"))).status == 401  # the doc's placeholder signature

    confirmation = vendor("cloudwatch/subscription_confirmation.json")
    confirmation["SubscribeURL"] = f"{base}/confirm?Token=abc"
    resp = await client.post(url, json=fake.signed(confirmation, base))
    assert resp.status == 200
    assert (await resp.json())["subscription_confirmed"] is True
    assert fake.confirmations == 1
    confirmation["SubscribeURL"] = "https://evil.example/confirm"
    resp = await client.post(url, json=fake.signed(confirmation, base))
    assert (await resp.json())["subscription_confirmed"] is False
    assert fake.confirmations == 1


async def test_unicode_and_control_characters_round_trip(client: TestClient[Any, Any]) -> None:
    """Hostile text (NUL, newlines, ANSI escapes, bidi overrides, emoji) is stored and served as sent."""
    title = "db\x00 down\n[error] fake log line \x1b[31mred\x1b[0m \u202eevil\u202c \U0001f525"
    body = {"title": title, "description": "x" * 10_000, "service": "ünïcødé", "impact": "low"}
    resp = await client.post("/api/v1/reports", json=body)
    assert resp.status == 202
    await settle(client.app)
    incidents = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    detail = await (await client.get(f"/api/v1/incidents/{incidents[0]['id']}")).json()
    alert = detail["alerts"][0]
    assert alert["labels"]["alertname"] == title
    assert alert["labels"]["service"] == "ünïcødé"
    assert alert["annotations"]["description"] == "x" * 10_000


async def test_sns_topic_allow_list_and_disabled_sources(
    aiohttp_client: Client, make_settings: Callable[..., Settings]
) -> None:
    """A topic not in topic_arns is refused; a disabled sender or reports endpoint is a 404."""
    settings = make_settings(
        sources={
            "cloudwatch": {"verify_signature": False, "topic_arns": ["arn:aws:sns:us-east-1:1:other"]},
            "report": {"enabled": False},
            "zabbix": {"enabled": False},
        }
    )
    client = await _client(aiohttp_client, settings)
    assert (await client.post("/api/v1/alerts/cloudwatch", json=sns("alarm.json"))).status == 401
    assert (await client.post("/api/v1/reports", json={"title": "x"})).status == 404
    resp = await client.post("/api/v1/alerts/zabbix", json=vendor("zabbix/problem.json"))
    assert resp.status == 404
    assert "grafana" in (await resp.json())["error"]


async def test_non_utf8_authorization_header_is_401_not_500(
    aiohttp_client: Client, make_settings: Callable[..., Settings]
) -> None:
    """Raw bytes that are not UTF-8 in Authorization (sent over a plain socket) get a 401."""
    import asyncio

    client = await _client(aiohttp_client, make_settings(sources={"report": {"token": "t0ken"}}))
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    body = b'{"title": "x"}'
    writer.write(
        b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
