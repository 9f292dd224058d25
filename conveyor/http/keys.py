"""Typed application state."""

from aiohttp import web

from conveyor.store import Pool

POOL = web.AppKey("pool", Pool)
