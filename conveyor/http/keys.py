"""Typed application state."""

from aiohttp import web

from conveyor.config import Settings
from conveyor.store import Pool

POOL = web.AppKey("pool", Pool)
SETTINGS = web.AppKey("settings", Settings)
