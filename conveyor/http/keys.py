"""Typed application state."""

from aiohttp import web

from conveyor.db import Pool

POOL = web.AppKey("pool", Pool)
