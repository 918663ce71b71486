"""Connections for auditing, and the scratch database the drift check builds its expectation in."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

SCRATCH_PREFIX = "wardgraph_policy_check_"

# Catalog functions print a name schema-qualified unless its schema is on the search_path, so
# with pg_catalog alone every expression and signature reads the same for every DBA's settings.
SEARCH_PATH = {"search_path": "pg_catalog"}


class AuditError(RuntimeError):
    """The audit cannot run; the message says why and what to do."""


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, server_settings=SEARCH_PATH)


def with_database(url: str, database: str) -> str:
    """The same server, user and options, another database."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise AuditError("the admin database URL must be a postgresql:// URL")
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@asynccontextmanager
async def scratch_database(admin_url: str, prefix: str = SCRATCH_PREFIX) -> AsyncIterator[str]:
    """A new, empty database on the admin URL's server for the duration; dropped afterwards."""
    name = prefix + secrets.token_hex(6)
    connection = await connect(admin_url)
    try:
        try:
            # An identifier cannot be a bind parameter; the name is ours (prefix + hex).
            await connection.execute(f'create database "{name}"')
        except asyncpg.InsufficientPrivilegeError as error:
            raise AuditError(
                "the admin role may not create databases: the check builds the expected "
                "catalog in a scratch database and needs CREATEDB") from error
        try:
            yield with_database(admin_url, name)
        finally:
            await connection.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await connection.close()
