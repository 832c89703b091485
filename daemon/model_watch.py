"""Follow the model registry: a `triaged model promote` or `rollback` reaches running daemons.

Polling one small file is enough (a stat per ``triage.registry_poll``) and works for
every replica that mounts the same registry directory, where a signal or an API call
would have to find each process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from classifiers.registry import ModelRegistry
from daemon.keys import PIPELINE, SETTINGS

log = structlog.get_logger(__name__)


async def model_watch_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the watcher for the app's lifetime when the model comes from the registry."""
    triage = app[SETTINGS].triage
    if triage.model != "registry" or not app[SETTINGS].pipeline.enabled:  # an ingest replica has none
        yield
        return
    task = asyncio.create_task(_watch(app, ModelRegistry(triage.registry), triage.registry_poll))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _watch(app: web.Application, registry: ModelRegistry, every: float) -> None:
    seen = registry.signature()
    while True:
        await asyncio.sleep(every)
        now = registry.signature()
        if now == seen:
            continue
        seen = now
        # Loading runs on the loop (a few hundred ms once per promotion): the swap itself
        # happens between batches, so no batch is scored by two models.
        swapped, version = app[PIPELINE].reload_model()
        log.info("model_registry_changed", swapped=swapped, version=version)
