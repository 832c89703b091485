"""HTTPS on the listener: a real `triaged serve` with a certificate made here, called over real TLS."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import free_port, triaged_executable, write_config
from test_security.certs import self_signed


def _get(url: str, context: ssl.SSLContext | None) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5, context=context) as resp:
        return resp.status, resp.read()


def test_https_listener_verified_against_its_certificate(tmp_path: Path) -> None:
    """serve with tls.cert_file/key_file answers HTTPS that verifies against that certificate only."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    cfg = write_config(
        tmp_path / "c.yaml",
        {
            "listen": f"127.0.0.1:{port}",
            "store": {"path": str(tmp_path / "t.db")},
            "logging": {"format": "json"},
            "triage": {"model": "none"},
            "tls": {"cert_file": str(cert), "key_file": str(key)},
        },
    )
    log = (tmp_path / "d.log").open("wb")
    proc = subprocess.Popen(
        [triaged_executable(), "serve", "--config", str(cfg)], stdout=log, stderr=log, env=dict(os.environ)
    )
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        deadline, status = time.monotonic() + 30, 0
        while time.monotonic() < deadline and status != 200:
            assert proc.poll() is None, (tmp_path / "d.log").read_text()
            try:
                status, body = _get(f"https://127.0.0.1:{port}/readyz", trusted)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        assert status == 200, (tmp_path / "d.log").read_text()
        assert json.loads(body)["backlog"] == 0
        status, _ = _get(f"https://localhost:{port}/api/v1/incidents", trusted)
        assert status == 200
        # A client with only the system CAs refuses the self-signed certificate: verification is on.
        with pytest.raises(urllib.error.URLError) as info:
            _get(f"https://127.0.0.1:{port}/healthz", ssl.create_default_context())
        assert isinstance(info.value.reason, ssl.SSLCertVerificationError)
        # Plain HTTP on the TLS port gets no HTTP answer.
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            _get(f"http://127.0.0.1:{port}/healthz", None)
        # The image's HEALTHCHECK follows the config: HTTPS here, on this port.
        health = _health(cfg)
        assert health.returncode == 0, health.stderr
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        log.close()
    assert '"tls": true' in (tmp_path / "d.log").read_text()
    down = _health(cfg)
    assert down.returncode == 1
    assert f"https://127.0.0.1:{port}/healthz: no answer" in down.stderr
    assert "Traceback" not in down.stderr


def _health(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [triaged_executable(), "health", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_bad_certificate_or_key_is_a_config_error(tmp_path: Path) -> None:
    """A key that does not match, a missing file, or half a pair: exit 2 naming tls, no key bytes."""
    cert, _ = self_signed(tmp_path, "a")
    _, other_key = self_signed(tmp_path, "b")
    cases = [
        ({"cert_file": str(cert), "key_file": str(other_key)}, "cannot load"),
        ({"cert_file": str(cert), "key_file": str(tmp_path / "missing.key")}, "cannot read"),
        ({"cert_file": str(cert)}, "set cert_file and key_file together"),
    ]
    key_text = other_key.read_text().splitlines()[1]
    for tls, expected in cases:
        cfg = write_config(tmp_path / "c.yaml", {"store": {"path": str(tmp_path / "t.db")}, "tls": tls})
        result = subprocess.run(
            [triaged_executable(), "check-config", str(cfg)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (tls, result.stdout, result.stderr)
        assert "tls" in result.stderr
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        assert key_text not in result.stderr
