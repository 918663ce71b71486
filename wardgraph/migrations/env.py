"""Alembic environment: SQL-first migrations run through psycopg in one transaction.

After the versioned migrations reach head, the policy files are applied in the same
transaction (see wardgraph.migrations.apply).
"""

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool

from wardgraph.migrations.apply import apply_policies, drop_policies, policies_digest

config = context.config

MIGRATION_LOCK = "select pg_advisory_xact_lock(hashtext('wardgraph migrations'))"


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set WARDGRAPH_ADMIN_DATABASE_URL")
    return url


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
    comment = connection.exec_driver_sql(
        "select obj_description('app'::regnamespace, 'pg_namespace')"
    ).scalar()
    return bool(comment == policies_digest())


def run_offline() -> None:
    context.configure(url=_url(), literal_binds=True, transactional_ddl=True)
    with context.begin_transaction():
        drop_policies()
        context.run_migrations()
        if _reaches_head():
            apply_policies()


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
            drop_policies()
            context.run_migrations()
            if _reaches_head():
                apply_policies()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
