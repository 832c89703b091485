"""State stores behind one protocol: ``sqlite`` (embedded default); ``redis`` comes with replicas."""

from __future__ import annotations

from daemon.settings import StoreSettings
from daemon.store.base import IncidentDetail, IntakeEntry, Store
from daemon.store.sqlite import SqliteStore


def build_store(settings: StoreSettings) -> Store:
    """The store the config asks for (not yet opened)."""
    return SqliteStore(settings.path, synchronous=settings.synchronous)


__all__ = ["IncidentDetail", "IntakeEntry", "Store", "build_store"]
