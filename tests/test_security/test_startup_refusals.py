"""What `triaged serve` and `check-config` refuse before binding: an open API off loopback, tampered rules."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import free_port, triaged_executable, write_config

TOKEN = "api-token-0123456789abcdef"


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed `triaged` console script."""
    return subprocess.run(
        [triaged_executable(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def config(tmp_path: Path, **sections: Any) -> Path:
    """A config on a throwaway SQLite file plus ``sections``."""
    data = {"store": {"path": str(tmp_path / "t.db")}, "logging": {"format": "json"}, **sections}
    return write_config(tmp_path / "c.yaml", data)


@pytest.mark.parametrize("listen", ["0.0.0.0:{port}", "[::]:{port}", "192.0.2.10:{port}"])
def test_open_api_off_loopback_is_refused(tmp_path: Path, listen: str) -> None:
    """No token and a non-loopback address: one clear line, exit 2, from serve and from check-config."""
    address = listen.format(port=free_port())
    cfg = config(tmp_path, listen=address)
    commands = [("check-config", str(cfg))]
    if listen.startswith("0.0.0.0"):  # serve shares the check; one address is enough to prove it runs there
        commands.append(("serve", "--config", str(cfg)))
    for args in commands:
        result = run(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "is not loopback and no API token is configured" in result.stderr
        assert "api.allow_unauthenticated" in result.stderr
    # --listen on the command line is checked too.
    local = config(tmp_path, listen=f"127.0.0.1:{free_port()}")
    result = run("serve", "--config", str(local), "--listen", address)
    assert result.returncode == 2
    assert "no API token is configured" in result.stderr


@pytest.mark.parametrize(
    "api",
    [{"tokens": [{"name": "ops", "token": TOKEN, "scopes": ["admin"]}]}, {"allow_unauthenticated": True}],
)
def test_a_token_or_an_explicit_opt_out_allows_it(tmp_path: Path, api: dict[str, Any]) -> None:
    """With a token configured (or allow_unauthenticated said out loud) the same config passes."""
    cfg = config(tmp_path, listen=f"0.0.0.0:{free_port()}", api=api)
    result = run("check-config", str(cfg))
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_loopback_without_tokens_is_fine(tmp_path: Path) -> None:
    """The default: loopback, no token (today's behaviour, and every other test's)."""
    for host in ("127.0.0.1", "[::1]", "localhost"):
        cfg = config(tmp_path, listen=f"{host}:{free_port()}")
        result = run("check-config", str(cfg))
        assert result.returncode == 0, result.stderr


TAMPERED = {
    "unknown action": (
        "rules:\n  - name: x\n    match: {labels: {a: b}}\n    action: delete_everything\n    reason: r\n",
        "rules.0.action",
    ),
    "bad regex": (
        "rules:\n  - name: x\n    match: {labels_regex: {a: '(unclosed'}}\n"
        "    action: set\n    priority: P1\n    reason: r\n",
        "rules.0.match.labels_regex",
    ),
    "unknown key": (
        "rules:\n  - name: x\n    match: {labels: {a: b}}\n    action: set\n    priority: P1\n"
        "    reason: r\n    exec: /bin/sh\n",
        "rules.0.exec",
    ),
    "not a mapping": ("- just\n- a list\n", "rules"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_rules_file_is_refused(tmp_path: Path, case: str) -> None:
    """A rules file with an unknown action, a bad regex or a stray key stops check-config and serve.

    The message names the config key (triage.rules_file), the rules file and the rule's key.
    """
    text, key = TAMPERED[case]
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    cfg = config(
        tmp_path, listen=f"127.0.0.1:{free_port()}", triage={"model": "none", "rules_file": str(rules)}
    )
    commands = [("check-config", str(cfg))]
    if case == "unknown action":  # serve validates through the same loader; once is enough
        commands.append(("serve", "--config", str(cfg)))
    for args in commands:
        result = run(*args)
        assert result.returncode == 2, (case, args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "triage.rules_file" in result.stderr
        assert str(rules) in result.stderr
        assert key in result.stderr, result.stderr
