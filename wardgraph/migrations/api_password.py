"""The API role's password, set by `wardgraph migrate` from WARDGRAPH_DATABASE_URL.

The API and the migration then share one secret, kept where the API's is kept anyway, and
nobody has to run ALTER ROLE by hand. Only the SCRAM verifier, computed here by libpq as
psql's \\password does, reaches the server: the password itself never appears in a statement,
so `log_statement = 'ddl'` or pg_stat_statements cannot record it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from wardgraph.config import database_location

API_ROLE = "wg_api"


def api_password_in(database_url: str | None) -> str | None:
    """The password of WARDGRAPH_DATABASE_URL when that URL logs in as wg_api."""
    if not database_url:
        return None
    place = database_location(database_url)
    return place.password if place.user == API_ROLE and place.password else None


def set_api_password(admin_url: str, password: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        verifier = connection.pgconn.encrypt_password(
            password.encode(), API_ROLE.encode(), b"scram-sha-256").decode()
        connection.execute(sql.SQL("alter role {} password {}").format(
            sql.Identifier(API_ROLE), sql.Literal(verifier)))
