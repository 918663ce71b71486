"""The app of one of `wardgraph serve --workers N`'s processes.

uvicorn starts each worker as a fresh process that imports this factory, so a worker learns
everything from the environment its parent leaves: the parent owns the database (it started
the embedded server, migrated, and stops the server when the last worker has gone) and puts
the API's URL in WARDGRAPH_DATABASE_URL; a worker only connects. Each worker has its own
pool and its own LISTEN connection, so a subscriber on any worker hears of every alert.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from wardgraph.config import ConfigError, Settings
from wardgraph.server.app import create_app
from wardgraph.server.log import configure_logging

# What uvicorn imports in each worker (with factory=True).
FACTORY = "wardgraph.server.workers:app_from_environment"


def worker_environment(api_url: str) -> dict[str, str]:
    """What a worker needs beyond the parent's environment: the database the parent opened.
    (A development secret is read from the data dir, where the parent generated it.)"""
    return {"WARDGRAPH_DATABASE_URL": api_url}


def app_from_environment() -> Starlette:
    settings = Settings.from_env(dict(os.environ))
    if not settings.database_url:
        raise ConfigError("a worker needs WARDGRAPH_DATABASE_URL (set by `wardgraph serve`)")
    configure_logging(settings.log_level)
    return create_app(settings, settings.database_url)
