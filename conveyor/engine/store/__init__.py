"""The SQL layer: every statement conveyor runs lives in this package."""

from typing import TypeAlias

from asyncpg import Connection
from asyncpg.pool import PoolConnectionProxy

Conn: TypeAlias = Connection | PoolConnectionProxy
