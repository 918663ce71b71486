"""Alembic environment: SQL-first migrations run through psycopg in one transaction.

After the versioned migrations reach head, the policy files are applied in the same
transaction (see wardgraph.migrations.apply), and the schema is stamped with the revision and
the policy files' digest (wardgraph.migrations.stamp).
"""

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool

from wardgraph.migrations.apply import apply_policies, drop_policies, stamp_below_head
from wardgraph.migrations.runner import DEFAULT_LOCK_TIMEOUT_SECONDS, lock_timeout_sql
from wardgraph.migrations.sql_files import run_sql
from wardgraph.migrations.stamp import READ_STAMP_SQL, expected_stamp

config = context.config

MIGRATION_LOCK = "select pg_advisory_xact_lock(hashtext('wardgraph migrations'))"


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set WARDGRAPH_ADMIN_DATABASE_URL")
    return url


def _set_lock_timeout() -> None:
    """Every lock a migration takes waits this long at most, then the migration fails and
    rolls back: a statement queued behind a long query would otherwise hold up every request
    queued behind it (Postgres grants locks in order), for as long as that query runs."""
    run_sql(lock_timeout_sql(config.attributes.get("lock_timeout_seconds",
                                                    DEFAULT_LOCK_TIMEOUT_SECONDS)))


def _reaches_head() -> bool:
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    if context.is_offline_mode():
        return context.get_revision_argument() in ("head", "heads", *heads)
    current = set(context.get_context().get_current_heads())
    return current == heads


def _up_to_date(connection: Connection) -> bool:
    """At head already, asked for head, and the policy files unchanged: nothing to do."""
    script = ScriptDirectory.from_config(config)
    if context.get_revision_argument() not in ("head", "heads", *script.get_heads()):
        return False
    if set(context.get_context().get_current_heads()) != set(script.get_heads()):
        return False
    row = connection.exec_driver_sql(READ_STAMP_SQL).one()
    return bool(row.stamp == expected_stamp())


def run_offline() -> None:
    context.configure(url=_url(), literal_binds=True, transactional_ddl=True)
    with context.begin_transaction():
        _set_lock_timeout()
        drop_policies()
        context.run_migrations()
        if _reaches_head():
            apply_policies()
        else:
            stamp_below_head(None)


def run_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True)
        with context.begin_transaction():
            # One upgrade at a time per database: `serve` and operator commands started
            # together would otherwise apply the same migrations and policies twice. The
            # lock is the transaction's, so it is released when the upgrade commits.
            connection.exec_driver_sql(MIGRATION_LOCK)
            if _up_to_date(connection):
                return
            _set_lock_timeout()
            drop_policies()
            context.run_migrations()
            if _reaches_head():
                apply_policies()
            else:
                current = context.get_context().get_current_heads()
                stamp_below_head(current[0] if len(current) == 1 else None)
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
