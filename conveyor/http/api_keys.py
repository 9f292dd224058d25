"""/keys: make API keys with a role in a namespace (shown once), list them, revoke them."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor.errors import ForbiddenError, NotFoundError
from conveyor.http.auth import principal_of
from conveyor.http.bodies import model_body, path_uuid
from conveyor.http.cursor import PageQuery, created_cursor, page_of
from conveyor.http.instant import Instant
from conveyor.http.keys import POOL, SETTINGS
from conveyor.http.operation import operation, query_of
from conveyor.http.resources import CreatedKeyAnswer, KeyAnswer, Page, RoleName
from conveyor.http.shapes import respond
from conveyor.key_digest import key_digest, new_key
from conveyor.principal import NAMESPACE_PATTERN, is_namespace
from conveyor.roles import Role
from conveyor.store import connection
from conveyor.store.api_keys import ApiKey, insert_key, list_keys, revoke_key

routes = web.RouteTableDef()


class KeyBody(BaseModel):
    """The body of POST /keys."""

    model_config = ConfigDict(extra="forbid")

    role: RoleName
    namespace: str | None = Field(
        default=None, pattern=NAMESPACE_PATTERN.pattern, description="the caller's namespace when not given"
    )
    label: str | None = Field(default=None, min_length=1, max_length=200, description="what the key is for")
    expires_at: Instant | None = Field(default=None, description="when it stops working; never when not given")

    @field_validator("role")
    @classmethod
    def _known(cls, value: str) -> str:
        Role.named(value)
        return value


class OtherNamespaceError(ForbiddenError):
    """A namespace's admin makes keys for that namespace only."""

    code = "other_namespace"


def key_shape(key: ApiKey) -> KeyAnswer:
    """A key as listed."""
    return KeyAnswer.model_validate(_fields(key))


def _fields(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "namespace": key.namespace,
        "role": key.role.label,
        "label": key.label,
        "created_by": key.created_by,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


@routes.post("/keys")
@operation(CreatedKeyAnswer, status=201, body=KeyBody, errors=(409,), role=Role.ADMIN)
async def post_key(request: web.Request) -> web.Response:
    """Make an API key; the answer shows it once. 409 without CONVEYOR_KEY_SECRET."""
    body = await model_body(request, KeyBody)
    principal = principal_of(request)
    namespace = body.namespace or principal.namespace
    if namespace != principal.namespace and not principal.spans_namespaces:
        raise OtherNamespaceError(
            f"this key's admin rights are in namespace {principal.namespace!r} only", field="/namespace"
        )
    assert is_namespace(namespace)
    secret = new_key()
    digest = key_digest(request.app[SETTINGS].key_secret, secret)
    async with connection(request.app[POOL]) as conn:
        key = await insert_key(
            conn,
            digest,
            namespace,
            Role.named(body.role),
            label=body.label,
            created_by=principal.actor,
            expires_at=body.expires_at,
        )
    return respond(CreatedKeyAnswer.model_validate({**_fields(key), "key": secret}), status=201)


@routes.get("/keys")
@operation(Page[KeyAnswer], query=PageQuery, errors=(422,), role=Role.ADMIN)
async def get_keys(request: web.Request) -> web.Response:
    """The namespace's keys, oldest first, revoked and expired ones included; never the keys themselves."""
    limit = query_of(request, PageQuery).limit
    async with connection(request.app[POOL]) as conn:
        found = await list_keys(conn, principal_of(request).namespace, created_cursor(request), limit + 1)
    return respond(page_of(found, limit, key_shape, lambda k: (k.created_at.isoformat(), str(k.id))))


@routes.delete("/keys/{id}")
@operation(KeyAnswer, path={"id": uuid.UUID}, errors=(404,), role=Role.ADMIN)
async def delete_key(request: web.Request) -> web.Response:
    """Revoke a key: every web process refuses it within a second."""
    async with connection(request.app[POOL]) as conn:
        key = await revoke_key(conn, path_uuid(request), principal_of(request).namespace)
    if key is None:
        raise NotFoundError("no such key", field="id")
    return respond(key_shape(key))
