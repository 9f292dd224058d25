"""Walking a keyset-paginated list of the API to its end."""

from __future__ import annotations

from tests.integration.conftest import ApiClient


async def all_ids(api: ApiClient, path: str, query: str, limit: int, cursor: str | None = None) -> list[str]:
    """The ids of every item of `path?query`, page after page of `limit`, from `cursor` on."""
    ids: list[str] = []
    while True:
        url = f"{path}?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await api.get(url)
        assert response.status == 200, await response.text()
        body = await response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
