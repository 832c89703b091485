"""Typed keys for what the aiohttp app holds (``app[SETTINGS]`` is a ``Settings``, checked by mypy)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from connectors.delivery import DeliveryWorker
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.settings import Settings
from daemon.store.base import Store

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
PIPELINE = web.AppKey("pipeline", Pipeline)
WORKER = web.AppKey("worker", asyncio.Task[None])
STOPPING = web.AppKey("stopping", asyncio.Event)
DELIVERY = web.AppKey("delivery", DeliveryWorker)
