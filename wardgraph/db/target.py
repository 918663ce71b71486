"""Which database: the one configured, or the embedded server in WARDGRAPH_DATA_DIR."""

from __future__ import annotations

from dataclasses import dataclass

from wardgraph.config import ConfigError, Settings
from wardgraph.db.embedded import EmbeddedPostgres, pgdata_for


@dataclass
class DatabaseTarget:
    admin_url: str  # runs migrations and the operator's commands
    api_url: str  # the API's login role (wg_api)
    embedded: EmbeddedPostgres | None = None

    def close(self) -> None:
        """Done with the database: leave the embedded server (which stops it only when no
        other process uses it); a configured database is never touched."""
        if self.embedded is not None:
            self.embedded.stop()


def open_target(settings: Settings) -> DatabaseTarget:
    """Start the embedded server when no database is configured; otherwise use the URLs given."""
    if settings.database_url:
        if not settings.admin_database_url:
            raise ConfigError(
                "WARDGRAPH_ADMIN_DATABASE_URL is required with WARDGRAPH_DATABASE_URL "
                "(the role that runs migrations)"
            )
        return DatabaseTarget(settings.admin_database_url, settings.database_url)
    if settings.production:
        raise ConfigError("WARDGRAPH_DATABASE_URL is required when WARDGRAPH_ENV=production")
    server = EmbeddedPostgres(pgdata_for(settings.data_dir))
    server.start()
    try:
        server.ensure_database()
    except BaseException:  # a ConfigError, or Ctrl-C / SIGTERM: leave the server as we go
        server.stop()
        raise
    return DatabaseTarget(server.url(), server.url(user="wg_api"), server)
