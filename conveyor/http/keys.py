"""Typed application state."""

from aiohttp import web

from conveyor.config import Settings
from conveyor.http.census import Census
from conveyor.store import Pool

POOL = web.AppKey("pool", Pool)
SETTINGS = web.AppKey("settings", Settings)
CENSUS = web.AppKey("census", Census)
