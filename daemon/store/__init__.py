"""State stores behind one protocol: ``sqlite`` (embedded default) and ``redis`` (many replicas)."""

from __future__ import annotations

from daemon.settings import SqliteStoreSettings, StoreSettings
from daemon.store.base import IncidentDetail, IntakeEntry, Store
from daemon.store.redis_store import RedisStore
from daemon.store.sqlite import SqliteStore


def build_store(settings: StoreSettings) -> Store:
    """The store the config asks for (not yet opened)."""
    if isinstance(settings, SqliteStoreSettings):
        return SqliteStore(settings.path, synchronous=settings.synchronous)
    return RedisStore(settings)


__all__ = ["IncidentDetail", "IntakeEntry", "Store", "build_store"]
