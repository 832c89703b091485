"""A directory of trained models with one active version: promote, roll back, list.

Why a registry and not "point the config at a directory": a promotion must be one
atomic switch that every running daemon notices (they poll ``active.json``), that is
checked before it happens (a model that would be refused at load is never made active),
and that can be undone in one command at 3 a.m. without finding the old files again.

Layout::

    <root>/versions/<model_version>/model.skops, model.json   (immutable once added)
    <root>/active.json   {"active": v, "previous": [v0, ...], "history": [...]}

``active.json`` is replaced atomically (write + fsync + rename), so a reader sees the
old or the new pointer, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.errors import ModelError, ModelNotFound
from classifiers.load import load_model, read_card
from classifiers.train import CARD_FILE, MODEL_FILE

ACTIVE_FILE = "active.json"
VERSIONS_DIR = "versions"
# Enough to roll back through a bad week of promotions; older entries stay on disk.
MAX_PREVIOUS = 20


class RegistryError(ModelError):
    """A registry operation that cannot be done (unknown version, nothing to roll back to)."""


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One stored version, as ``triaged model ls`` shows it."""

    version: str
    path: Path
    created: str
    macro_f1: float | None
    active: bool

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "version": self.version,
            "path": str(self.path),
            "created": self.created,
            "macro_f1": self.macro_f1,
            "active": self.active,
        }


class ModelRegistry:
    """Models under ``root``; every method reads the disk afresh (other processes write too)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- reading -------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The parsed ``active.json``; an empty registry has no active version."""
        path = self.root / ACTIVE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"active": None, "previous": [], "history": []}
        except (OSError, ValueError) as err:
            raise RegistryError(f"{path}: unreadable registry pointer ({err})") from err
        if not isinstance(data, dict) or not isinstance(data.get("previous", []), list):
            raise RegistryError(f"{path}: expected an object with 'active' and 'previous'")
        data.setdefault("previous", [])
        data.setdefault("history", [])
        return data

    def active_dir(self) -> Path | None:
        """The directory of the active model, or None when nothing was promoted."""
        active = self.state().get("active")
        return None if not active else self._dir(str(active))

    def signature(self) -> tuple[int, int] | None:
        """Cheap change detector for pollers: (mtime_ns, size) of ``active.json``."""
        try:
            st = (self.root / ACTIVE_FILE).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def entries(self) -> list[ModelEntry]:
        """Every stored version, newest first."""
        active = self.state().get("active")
        found = []
        for directory in sorted((self.root / VERSIONS_DIR).glob("*/")):
            try:
                card = read_card(directory / CARD_FILE)
            except ModelError:
                continue
            metrics = card.get("grouped_cv") or {}
            f1 = metrics.get("macro_f1") if isinstance(metrics, dict) else None
            found.append(
                ModelEntry(
                    version=directory.name,
                    path=directory,
                    created=str(card.get("created", "")),
                    macro_f1=float(f1) if isinstance(f1, int | float) else None,
                    active=directory.name == active,
                )
            )
        return sorted(found, key=lambda e: e.created, reverse=True)

    # -- writing -------------------------------------------------------------------

    def add(self, source: Path) -> str:
        """Copy a trained model directory in, after it passed every load check; its version."""
        model = load_model(source)  # refuses tampered, mismatched or untrusted files
        version = str(model.card.get("model_version") or model.card["skops_sha256"][:12])
        target = self._dir(version)
        if target.is_dir():
            return version  # same version, same bytes (version is the file's hash)
        staging = Path(tempfile.mkdtemp(prefix=".adding-", dir=self._versions()))
        for name in (MODEL_FILE, CARD_FILE):
            shutil.copy2(source / name, staging / name)
        os.replace(staging, target)
        return version

    def promote(self, what: str, actor: str = "cli") -> str:
        """Make a stored version (or a directory, added first) the active model."""
        candidate = Path(what)
        version = self.add(candidate) if (candidate / CARD_FILE).is_file() else what
        directory = self._dir(version)
        if not directory.is_dir():
            raise RegistryError(f"no model version {version!r} in {self.root} (see `triaged model ls`)")
        load_model(directory)  # a file damaged since it was added is refused here, not at 3 a.m.
        state = self.state()
        current = state.get("active")
        if current == version:
            return version
        previous = [*state["previous"], current] if current else list(state["previous"])
        self._write(state, version, previous[-MAX_PREVIOUS:], "promote", actor, current)
        return version

    def rollback(self, actor: str = "cli") -> str:
        """Re-activate the version active before the current one."""
        state = self.state()
        previous = list(state["previous"])
        while previous:
            version = str(previous.pop())
            try:
                load_model(self._dir(version))
            except ModelNotFound:
                continue  # deleted by hand: skip to the one before
            self._write(state, version, previous, "rollback", actor, state.get("active"))
            return version
        raise RegistryError(f"nothing to roll back to in {self.root}: no earlier active model")

    # -- internals -----------------------------------------------------------------

    def _dir(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"invalid model version {version!r}")
        return self.root / VERSIONS_DIR / version

    def _versions(self) -> Path:
        path = self.root / VERSIONS_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _write(
        self,
        state: dict[str, Any],
        active: str,
        previous: list[Any],
        action: str,
        actor: str,
        before: Any,
    ) -> None:
        history = [
            *state.get("history", []),
            {"at": time.time(), "action": action, "actor": actor, "from": before, "to": active},
        ]
        body = {"active": active, "previous": previous, "history": history[-100:]}
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".active-", dir=self.root)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / ACTIVE_FILE)
