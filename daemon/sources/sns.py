"""Amazon SNS envelopes: signature verification and subscription confirmation (the network part).

The certificate named by ``SigningCertURL`` is fetched only from URLs matching
``sources.cloudwatch.cert_url_pattern`` (SNS's own hosts by default) and kept in a
small process-wide cache: a certificate at a given URL never changes, and SNS
signs every message with one of a few.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from daemon.errors import AuthError, PayloadError, StoreUnavailable
from daemon.settings import CloudwatchSourceSettings

log = structlog.get_logger(__name__)
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_TIMEOUT = aiohttp.ClientTimeout(total=10)
_MAX_CERT_BYTES = 64 * 1024
_CACHE_SIZE = 32
_certs: dict[str, rsa.RSAPublicKey] = {}


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """SNS's canonical form: ``Name\\nvalue\\n`` for each signed field present, in this order."""
    kind = message.get("Type")
    fields = NOTIFICATION_FIELDS if kind == "Notification" else CONFIRMATION_FIELDS
    parts = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            raise PayloadError(f"SNS message without {name}")
        if not isinstance(value, str):
            raise PayloadError(f"SNS field {name} must be a string")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


async def verify(message: Mapping[str, Any], settings: CloudwatchSourceSettings) -> None:
    """Raise ``AuthError`` unless the message is signed by the certificate at an allowed URL."""
    version = message.get("SignatureVersion")
    algorithm = HASHES.get(version) if isinstance(version, str) else None
    cert_url = message.get("SigningCertURL")
    signature = message.get("Signature")
    if algorithm is None or not isinstance(cert_url, str) or not isinstance(signature, str):
        raise AuthError()
    if not re.match(settings.cert_url_pattern, cert_url):
        log.warning("sns_cert_url_refused", reason="does not match sources.cloudwatch.cert_url_pattern")
        raise AuthError()
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise AuthError() from None
    key = await _public_key(cert_url)
    try:
        key.verify(raw_signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise AuthError() from None


async def confirm(message: Mapping[str, Any], settings: CloudwatchSourceSettings) -> bool:
    """GET the SubscribeURL when confirming is enabled and the URL is SNS's; True once confirmed."""
    url = message.get("SubscribeURL")
    if not isinstance(url, str) or not settings.auto_confirm:
        log.warning(
            "sns_subscription_not_confirmed",
            reason="sources.cloudwatch.auto_confirm is off",
            topic=str(message.get("TopicArn", ""))[:256],
        )
        return False
    if not re.match(settings.subscribe_url_pattern, url):
        log.warning("sns_subscribe_url_refused", reason="does not match subscribe_url_pattern")
        return False
    try:
        async with aiohttp.ClientSession(timeout=_TIMEOUT) as http, http.get(url) as resp:
            await resp.read()
            ok = resp.status == 200
    except (aiohttp.ClientError, TimeoutError) as err:
        log.warning("sns_subscription_confirm_failed", error=type(err).__name__)
        return False
    log.info("sns_subscription_confirmed", ok=ok, topic=str(message.get("TopicArn", ""))[:256])
    return ok


async def _public_key(url: str) -> rsa.RSAPublicKey:
    cached = _certs.get(url)
    if cached is not None:
        return cached
    try:
        async with aiohttp.ClientSession(timeout=_TIMEOUT) as http, http.get(url) as resp:
            if resp.status != 200:
                raise AuthError()
            pem = await resp.content.read(_MAX_CERT_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError):
        # Our outage, not a forgery: 503 so that SNS retries by its delivery policy.
        log.warning("sns_cert_fetch_failed")
        raise StoreUnavailable("cannot fetch the SNS signing certificate now") from None
    if len(pem) > _MAX_CERT_BYTES:
        raise AuthError()
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise AuthError() from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise AuthError()
    if len(_certs) >= _CACHE_SIZE:
        _certs.pop(next(iter(_certs)))
    _certs[url] = key
    return key
