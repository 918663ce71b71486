"""Running alembic from Python (the CLI and the tests), without an alembic.ini on disk."""

from importlib import resources

from alembic import command
from alembic.config import Config

# How long a migration waits for a lock before it gives up (WARDGRAPH_MIGRATION_LOCK_TIMEOUT).
DEFAULT_LOCK_TIMEOUT_SECONDS = 5


def lock_timeout_sql(seconds: int) -> str:
    """What every migration runs first (env.py), and what the migration linter sees first."""
    return f"set local lock_timeout = '{int(seconds)}s';\n"


def sqlalchemy_url(database_url: str) -> str:
    """A libpq URL as SQLAlchemy's psycopg dialect wants it."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix):]
    return database_url


def alembic_config(admin_url: str,
                   lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("wardgraph").joinpath("migrations"))
    )
    # '%' is alembic's interpolation character in option values.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(admin_url).replace("%", "%%"))
    config.attributes["lock_timeout_seconds"] = lock_timeout_seconds
    return config


def upgrade(admin_url: str, revision: str = "head", *, sql: bool = False,
            lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
    command.upgrade(alembic_config(admin_url, lock_timeout_seconds), revision, sql=sql)


def downgrade(admin_url: str, revision: str) -> None:
    command.downgrade(alembic_config(admin_url), revision)


def current(admin_url: str) -> None:
    command.current(alembic_config(admin_url))
