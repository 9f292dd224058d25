"""Typed application state."""

from aiohttp import web

from conveyor.config import Settings
from conveyor.http.throttle import Throttle
from conveyor.store import Pool

POOL = web.AppKey("pool", Pool)
SETTINGS = web.AppKey("settings", Settings)
THROTTLE = web.AppKey("throttle", Throttle)
