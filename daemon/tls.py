"""Checks before binding: the listener's ``ssl.SSLContext``, API exposure, SSRF-refused connector URLs.

Built by ``check-config`` too, so an unreadable key or a certificate that does not
match it is a one-line config error, not a daemon that dies on its first handshake.
"""

from __future__ import annotations

import ssl

from pydantic import SecretStr

from connectors.ssrf import TargetPolicy, url_refusal
from daemon.api_settings import TlsSettings, exposure_problem, token_problems
from daemon.errors import ConfigError
from daemon.settings import Settings, parse_listen


def server_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """A server context for the configured certificate, or None when TLS is off."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if tls.min_version == "1.3" else ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except FileNotFoundError as err:
        raise ConfigError([f"tls: cannot read {err.filename}: {err.strerror}"]) from None
    except PermissionError as err:
        raise ConfigError([f"tls: cannot read {err.filename}: {err.strerror}"]) from None
    except ssl.SSLError as err:
        # The reason only (e.g. KEY_VALUES_MISMATCH, PEM lib): never the key's bytes.
        reason = err.reason or "not a PEM certificate and matching key"
        raise ConfigError(
            [f"tls: cert_file {tls.cert_file} / key_file {tls.key_file}: cannot load ({reason})"]
        ) from None
    return context


def preflight(settings: Settings) -> ssl.SSLContext | None:
    """Every security check ``serve`` and ``check-config`` run before binding, all problems at once.

    API token files that cannot be read, an unauthenticated API on a non-loopback
    address, connector URLs the SSRF guard refuses, and a TLS certificate that does
    not load. Returns the listener's context.
    """
    host, _ = parse_listen(settings.listen)
    problems: list[str] = []
    problems += token_problems(settings.api)
    exposure = exposure_problem(host, settings.api)
    if exposure is not None:
        problems.append(exposure)
    policy = target_policy(settings)
    for name, entry in settings.connectors.items():
        for key, value in entry.options().items():
            # Any URL-valued option (endpoint, webhook_url, url...); secrets arrive as plain text here.
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if isinstance(text, str) and text.startswith(("http://", "https://")):
                reason = url_refusal(text, policy)
                if reason is not None:
                    problems.append(
                        f"connectors.{name}.{key}: target refused by the SSRF guard: {reason} "
                        "(allow it with outbound.allowed_targets)"
                    )
    try:
        context = server_context(settings.tls)
    except ConfigError as err:
        problems += err.problems
        context = None
    if problems:
        raise ConfigError(problems)
    return context


def target_policy(settings: Settings) -> TargetPolicy:
    """The SSRF guard's policy: ``outbound`` plus the daemon's own listen address."""
    return TargetPolicy.build(
        settings.outbound.allow_private_targets,
        settings.outbound.allowed_targets,
        parse_listen(settings.listen),
    )
