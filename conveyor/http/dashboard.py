"""The dashboard: one HTML shell at `/` and its scripts and styles, all shipped in the package."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from conveyor.errors import NotFoundError
from conveyor.http.operation import operation

routes = web.RouteTableDef()

ASSETS = Path(__file__).with_name("dashboard")
ASSET_PREFIX = "/dashboard/"
_CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# The page runs only its own shipped scripts and styles, talks only to this API, and cannot be framed.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Read once: the set of names served is fixed when the package is, so no request names a path of its own.
_FILES = {p.name: p.read_bytes() for p in ASSETS.iterdir() if p.suffix in _CONTENT_TYPES}
_SHELL = (ASSETS / "index.html").read_bytes()


def _headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"}


@routes.get("/")
@operation(media="text/html", public=True, database=False)
async def get_shell(request: web.Request) -> web.Response:
    """The dashboard's HTML shell; it needs no token, every data call it makes does."""
    return web.Response(body=_SHELL, headers=_headers("text/html; charset=utf-8"))


@routes.get(ASSET_PREFIX + "{name}")
@operation(media="text/javascript", public=True, database=False, errors=(404,))
async def get_asset(request: web.Request) -> web.Response:
    """One of the dashboard's shipped scripts or styles."""
    name = request.match_info["name"]
    if name not in _FILES:
        raise NotFoundError(f"no dashboard asset {name[:80]!r}", field="name")
    content_type = _CONTENT_TYPES[Path(name).suffix]
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return web.Response(body=_FILES[name], headers=_headers(content_type))
