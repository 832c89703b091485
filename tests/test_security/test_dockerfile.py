"""The Docker image runs as non-root on a read-only root filesystem (parsed: no Docker engine here)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path, PurePosixPath

import pytest
from support import REPO

from daemon.config_loader import load_settings
from daemon.errors import ConfigError
from daemon.settings import Settings
from daemon.tls import preflight


def final_stage() -> list[tuple[str, str]]:
    """(instruction, arguments) of the last stage, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        op, _, rest = line.partition(" ")
        if op.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((op.upper(), rest.strip()))
    return stages[-1]


def image_env() -> dict[str, str]:
    """The ENV of the final stage."""
    env: dict[str, str] = {}
    for op, rest in final_stage():
        if op == "ENV":
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def test_runs_as_a_numeric_non_root_user() -> None:
    """The last USER is a numeric non-zero uid:gid (runAsNonRoot can verify it), created with that id."""
    stage = final_stage()
    users = [rest for op, rest in stage if op == "USER"]
    assert users, "no USER in the final stage: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    runs = " ".join(rest for op, rest in stage if op == "RUN")
    assert f"--uid {uid}" in runs
    assert f"--gid {gid}" in runs
    # Nothing after USER switches back.
    after = stage[[op for op, _ in stage].index("USER") :]
    assert not any(op == "USER" and rest.split(":")[0] in ("root", "0") for op, rest in after)


def test_every_written_path_is_in_the_state_volume() -> None:
    """With --read-only the daemon writes only to the VOLUME (and /tmp): store, model registry, cwd."""
    stage = final_stage()
    volumes = [v.strip('[]" ') for op, rest in stage if op == "VOLUME" for v in rest.split(",")]
    assert volumes == ["/var/lib/triaged"]
    volume = PurePosixPath(volumes[0])
    workdir = PurePosixPath([rest for op, rest in stage if op == "WORKDIR"][-1])
    env = image_env()
    settings = load_settings(REPO / "config" / "triaged.yaml", env, read_secrets=False)
    written = [settings.store.path, settings.triage.registry] if settings.store.kind == "sqlite" else []
    assert written, "the image's default store is the embedded SQLite file"
    for path in written:
        absolute = workdir / PurePosixPath(Path(path).as_posix())
        assert volume in (absolute, *absolute.parents), path
    assert volume in (workdir, *workdir.parents)
    assert PurePosixPath(env["HOME"]) == volume
    assert env["TMPDIR"] == "/tmp"
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"


def test_image_defaults_demand_a_token() -> None:
    """The image listens on 0.0.0.0, so its default config refuses to start until api.tokens is set."""
    env = image_env()
    assert env["TRIAGED_LISTEN"].startswith("0.0.0.0:")
    settings: Settings = load_settings(REPO / "config" / "triaged.yaml", env, read_secrets=False)
    with pytest.raises(ConfigError) as info:
        preflight(settings)
    assert "no API token is configured" in info.value.problems[0]
    tokens = "[{name: ops, token: 0123456789abcdef0123, scopes: [admin]}]"
    secured = load_settings(REPO / "config" / "triaged.yaml", {**env, "TRIAGED_API__TOKENS": tokens})
    assert preflight(secured) is None  # no TLS configured: plain HTTP, but authenticated


def test_the_healthcheck_reads_the_config_the_daemon_serves_with() -> None:
    """The probe follows the config's listen address and TLS (`triaged health`), not a fixed URL."""
    stage = final_stage()
    [check] = [rest for op, rest in stage if op == "HEALTHCHECK"]
    [cmd] = [rest for op, rest in stage if op == "CMD"]
    probe = json.loads(check.split("CMD", 1)[1])
    serve = json.loads(cmd)
    assert probe[:2] == ["triaged", "health"]
    assert probe[probe.index("--config") + 1] == serve[serve.index("--config") + 1]
