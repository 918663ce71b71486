"""Which database: the one configured, or the embedded server in WARDGRAPH_DATA_DIR."""

from __future__ import annotations

from dataclasses import dataclass

from wardgraph.config import ConfigError, Settings
from wardgraph.db.embedded import EmbeddedPostgres, pgdata_for


@dataclass
class DatabaseTarget:
    admin_url: str | None  # runs migrations and the operator's commands
    api_url: str  # the API's login role (wg_api)
    embedded: EmbeddedPostgres | None = None

    def close(self) -> None:
        """Done with the database: leave the embedded server (which stops it only when no
        other process uses it); a configured database is never touched."""
        if self.embedded is not None:
            self.embedded.stop()

    def require_admin(self) -> str:
        if self.admin_url is None:
            raise ConfigError("WARDGRAPH_ADMIN_DATABASE_URL is required for this command "
                              "(the role that runs migrations and the operator's commands)")
        return self.admin_url


def open_target(settings: Settings, *, need_admin: bool = True) -> DatabaseTarget:
    """Start the embedded server when no database is configured; otherwise use the URLs given.

    The API needs only its own URL; migrations and the operator's commands need the admin URL.
    """
    if settings.database_url or settings.admin_database_url:
        target = DatabaseTarget(settings.admin_database_url, settings.database_url or "")
        if need_admin:
            target.require_admin()
        elif not settings.database_url:
            raise ConfigError("WARDGRAPH_DATABASE_URL is required to serve (the API's login "
                              "role, wg_api)")
        return target
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
