"""The model registry: promote only what loads, roll back in one step, daemons follow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from classifiers.errors import UntrustedModel
from classifiers.registry import ModelRegistry, RegistryError
from classifiers.train import read_rows, train
from daemon.app import create_app
from daemon.cli import run
from daemon.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "alert-rules"


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small models trained on different slices of the real rules: two versions."""
    rows = read_rows(DATA / "kube-prometheus.jsonl")
    out = []
    for i, part in enumerate((rows[:120], rows[60:])):
        data = tmp_path_factory.mktemp(f"data{i}") / "slice.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        model_dir = tmp_path_factory.mktemp(f"model{i}")
        cv = {"macro_f1": 0.5 + i / 10, "per_class": {"critical": {"recall": 0.0}}}
        train([data], model_dir, seed=0, cv=cv)
        out.append(model_dir)
    return out[0], out[1]


def _version(model_dir: Path) -> str:
    return str(json.loads((model_dir / "model.json").read_text())["model_version"])


def test_promote_and_roll_back(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_models
    reg = ModelRegistry(tmp_path / "models")
    assert reg.active_dir() is None
    va = reg.promote(str(a), actor="alice")
    assert va == _version(a)
    vb = reg.promote(str(b), actor="bob")
    assert vb != va
    assert reg.active_dir() == tmp_path / "models" / "versions" / vb
    assert [e.version for e in reg.entries() if e.active] == [vb]
    assert reg.rollback(actor="carol") == va
    assert reg.active_dir() == tmp_path / "models" / "versions" / va
    history = reg.state()["history"]
    assert [(h["action"], h["actor"], h["to"]) for h in history] == [
        ("promote", "alice", va),
        ("promote", "bob", vb),
        ("rollback", "carol", va),
    ]
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()
    # Promoting a stored version by name needs no directory.
    assert reg.promote(vb) == vb


def test_a_tampered_model_is_never_made_active(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_models
    reg = ModelRegistry(tmp_path / "models")
    va = reg.promote(str(a))
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("model.skops", "model.json"):
        (bad / name).write_bytes((b / name).read_bytes())
    blob = (bad / "model.skops").read_bytes()
    (bad / "model.skops").write_bytes(blob[:-8] + b"tampered")
    with pytest.raises(UntrustedModel):
        reg.promote(str(bad))
    assert reg.state()["active"] == va
    # A stored version damaged after it was added is refused at promotion too.
    vb = reg.add(b)
    stored = tmp_path / "models" / "versions" / vb / "model.skops"
    stored.write_bytes(stored.read_bytes()[:-8] + b"tampered")
    with pytest.raises(UntrustedModel):
        reg.promote(vb)
    assert reg.state()["active"] == va
    with pytest.raises(RegistryError, match="no model version"):
        reg.promote("0123456789ab")


def _config(tmp_path: Path, registry: Path) -> Path:
    path = tmp_path / "triaged.yaml"
    path.write_text(f"triage:\n  registry: {registry}\n", encoding="utf-8")
    return path


def test_cli_promote_ls_rollback(
    two_models: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_models
    config = str(_config(tmp_path, tmp_path / "models"))
    assert run(["model", "ls", "--config", config]) == 0
    assert "bundled model" in capsys.readouterr().out
    assert run(["model", "promote", str(a), "--config", config]) == 0
    assert run(["model", "promote", str(b), "--config", config]) == 0
    assert f"active model: {_version(b)}" in capsys.readouterr().out
    assert run(["model", "ls", "--json", "--config", config]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["active"] == _version(b)
    assert listing["previous"] == [_version(a)]
    assert {v["version"] for v in listing["versions"]} == {_version(a), _version(b)}
    assert run(["model", "rollback", "--config", config]) == 0
    assert f"active model: {_version(a)}" in capsys.readouterr().out
    assert run(["model", "promote", "nope", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "no model version 'nope'" in err
    assert "Traceback" not in err


async def test_running_daemon_follows_promotion_and_rollback(
    two_models: tuple[Path, Path],
    aiohttp_client: Callable[..., Any],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    """A promotion reaches the running daemon within registry_poll, no restart, no API call."""
    a, b = two_models
    registry = ModelRegistry(tmp_path / "models")
    registry.promote(str(a))
    settings = make_settings(
        triage={"model": "registry", "registry": str(registry.root), "registry_poll": 0.05}
    )
    client = await aiohttp_client(create_app(settings))

    async def active_version() -> set[str]:
        text = await (await client.get("/metrics")).text()
        return {
            line.split('version="')[1].split('"')[0]
            for line in text.splitlines()
            if line.startswith("triaged_model_info{") and 'role="active"' in line
        }

    async def becomes(version: str) -> None:
        for _ in range(100):
            if await active_version() == {version}:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"daemon still runs {await active_version()}, expected {version}")

    await becomes(_version(a))
    registry.promote(str(b))
    await becomes(_version(b))
    registry.rollback()
    await becomes(_version(a))
