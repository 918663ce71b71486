"""Checks of a configured PostgreSQL before a command uses it.

Each failure is a ConfigError of one line that says what is wrong and which setting or
command fixes it: the operator reads it in a terminal or a unit's journal, where a driver's
traceback would hide it.
"""

from __future__ import annotations

import asyncio
import socket

import asyncpg

from wardgraph.config import ConfigError, DatabaseLocation, database_location
from wardgraph.migrations.stamp import READ_STAMP_SQL, SchemaState, compare

API_SETTING = "WARDGRAPH_DATABASE_URL"
ADMIN_SETTING = "WARDGRAPH_ADMIN_DATABASE_URL"
CONNECT_TIMEOUT_SECONDS = 10

# The roles a request becomes (db/session.py); the API's login role must be able to SET each.
REQUEST_ROLES = ("wg_admin", "wg_clinician", "wg_nurse", "wg_billing", "wg_auditor",
                 "wg_partner")

MISSING_REQUEST_ROLES_SQL = """
select wanted from unnest($1::text[]) wanted
where not exists (select 1 from pg_catalog.pg_roles r
                  where r.rolname = wanted and pg_catalog.pg_has_role(r.oid, 'MEMBER'))
order by 1
"""

CAN_USE_AUTH_SQL = "select pg_catalog.has_schema_privilege('auth', 'USAGE')"

MIGRATION_ROLE_SQL = """
select r.rolsuper, r.rolcreaterole, r.rolbypassrls,
       pg_catalog.pg_has_role(d.datdba, 'MEMBER') as owns_database
from pg_catalog.pg_roles r, pg_catalog.pg_database d
where r.rolname = current_user and d.datname = current_database()
"""




def _password_fix(setting: str, place: DatabaseLocation) -> str:
    if setting == API_SETTING and place.user == "wg_api":
        return (f"put wg_api's password in {setting} and run `wardgraph migrate`, "
                "which sets it from that URL")
    return f"put role {place.user}'s password in {setting}"


async def connect(url: str, setting: str) -> asyncpg.Connection:
    """A connection, or a ConfigError naming what refused it and how to fix it."""
    try:
        place = database_location(url)
    except ValueError as error:
        raise ConfigError(f"{setting} is not a PostgreSQL URL ({error})") from None
    try:
        connection: asyncpg.Connection = await asyncpg.connect(
            url, timeout=CONNECT_TIMEOUT_SECONDS)
        return connection
    except asyncpg.InvalidPasswordError:
        problem, fix = "refused the password", _password_fix(setting, place)
    except asyncpg.InvalidCatalogNameError:
        problem = f"has no database {place.database!r}"
        fix = f"create it (see docs/deploy.md) or correct the database name in {setting}"
    except asyncpg.InvalidAuthorizationSpecificationError as error:
        problem = f"refused the login ({error})"
        fix = ("run `wardgraph migrate`, which creates wg_api"
               if setting == API_SETTING and "does not exist" in str(error)
               else f"check the role in {setting} and the server's pg_hba.conf")
    except asyncpg.PostgresError as error:
        problem, fix = f"refused the connection ({error})", f"check {setting}"
    except (OSError, TimeoutError) as error:
        reason = ("unknown host" if isinstance(error, socket.gaierror)
                  else "timed out" if isinstance(error, TimeoutError)
                  else error.strerror or type(error).__name__)
        raise ConfigError(
            f"{setting}: cannot reach PostgreSQL at {place.host}:{place.port} ({reason}): "
            f"check the host and port in {setting} and that the server is running") from None
    except (asyncpg.InterfaceError, ValueError) as error:
        raise ConfigError(f"{setting} cannot be used ({error})") from None
    raise ConfigError(f"{setting}: PostgreSQL at {place} {problem}: {fix}")


async def read_schema_state(connection: asyncpg.Connection) -> SchemaState:
    row = await connection.fetchrow(READ_STAMP_SQL)
    assert row is not None
    return compare(row["has_schema"], row["stamp"])


async def _check_api_role(url: str) -> None:
    connection = await connect(url, API_SETTING)
    try:
        state = await read_schema_state(connection)
        if state.behind:
            raise ConfigError(f"{state.message}: run `wardgraph migrate` (with "
                              f"{ADMIN_SETTING}) before `wardgraph serve`")
        place = database_location(url)
        missing = [r["wanted"] for r in await connection.fetch(MISSING_REQUEST_ROLES_SQL,
                                                               list(REQUEST_ROLES))]
        if missing or not await connection.fetchval(CAN_USE_AUTH_SQL):
            lacking = ", ".join(missing) if missing else "usage of schema auth"
            raise ConfigError(
                f"{API_SETTING}: role {place.user} cannot become {lacking}: log in as wg_api, "
                "which `wardgraph migrate` creates and grants")
    finally:
        await connection.close()


async def _check_migration_role(url: str) -> None:
    connection = await connect(url, ADMIN_SETTING)
    try:
        row = await connection.fetchrow(MIGRATION_ROLE_SQL)
    finally:
        await connection.close()
    assert row is not None
    if row["rolsuper"]:
        return
    place = database_location(url)
    lacking = [name for name, held in (("CREATEROLE", row["rolcreaterole"]),
                                       ("BYPASSRLS", row["rolbypassrls"])) if not held]
    fixes = [f"alter role {place.user} {' '.join(lacking).lower()}"] if lacking else []
    if not row["owns_database"]:
        lacking.append(f"ownership of database {place.database}")
        fixes.append(f"alter database {place.database} owner to {place.user}")
    if lacking:
        raise ConfigError(
            f"{ADMIN_SETTING}: role {place.user} lacks {', '.join(lacking)}, which migrations "
            f"need: as a superuser, run `{'; '.join(fixes)}`")


def check_api_role(url: str) -> None:
    """The API's login role reaches its database, can become every request role, and the
    schema is not behind the code."""
    asyncio.run(_check_api_role(url))


def check_migration_role(url: str) -> None:
    """The migration role reaches its database and holds what migrations need."""
    asyncio.run(_check_migration_role(url))


async def _check_reachable(url: str, setting: str) -> None:
    connection = await connect(url, setting)
    await connection.close()


def check_reachable(url: str, setting: str) -> None:
    asyncio.run(_check_reachable(url, setting))


async def _schema_state(url: str, setting: str) -> SchemaState:
    connection = await connect(url, setting)
    try:
        return await read_schema_state(connection)
    finally:
        await connection.close()


def schema_state(url: str, setting: str) -> SchemaState:
    return asyncio.run(_schema_state(url, setting))
