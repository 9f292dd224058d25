"""Typed application state."""

from aiohttp import web

from conveyor.http.throttle import Throttle
from conveyor.store import Pool

POOL = web.AppKey("pool", Pool)
THROTTLE = web.AppKey("throttle", Throttle)
