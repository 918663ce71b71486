"""Running SQL files from migrations: online through the driver, offline as printed text."""

from importlib import resources

from alembic import context as alembic_context


def read_sql(name: str) -> str:
    """A file of wardgraph/migrations/sql/."""
    return resources.files("wardgraph.migrations").joinpath("sql", name).read_text("utf-8")


def run_sql(sql: str) -> None:
    """Run a multi-statement SQL script in the migration's transaction.

    The text goes to psycopg as it is: SQLAlchemy's text() would read ':word' as a bind
    parameter, and asyncpg cannot run several statements in one call. In offline mode
    (``alembic upgrade --sql``) the script is printed for review instead.
    """
    context = alembic_context.get_context()
    if context.as_sql:
        context.impl.static_output(sql.rstrip() + "\n")
        return
    assert context.connection is not None
    driver_connection = context.connection.connection.driver_connection
    assert driver_connection is not None
    driver_connection.execute(sql)


def run_sql_file(name: str) -> None:
    run_sql(read_sql(name))
