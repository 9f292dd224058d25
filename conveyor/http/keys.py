"""Typed application state."""

from aiohttp import web

from conveyor.config import Settings
from conveyor.http.census import Census
from conveyor.http.key_cache import KeyCache
from conveyor.http.sso import JwtVerifier
from conveyor.http.throttle import Throttle
from conveyor.http.waits import Waits
from conveyor.store import Pool
from conveyor.vault import Vault

POOL = web.AppKey("pool", Pool)
SETTINGS = web.AppKey("settings", Settings)
CENSUS = web.AppKey("census", Census)
THROTTLE = web.AppKey("throttle", Throttle)
VAULT = web.AppKey("vault", Vault)
WAITS = web.AppKey("waits", Waits)
KEY_CACHE = web.AppKey("key_cache", KeyCache)
JWT_VERIFIER = web.AppKey("jwt_verifier", JwtVerifier)
