"""Configuration from WARDGRAPH_* environment variables (flags override the common ones)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEV_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name
MIN_SECRET_BYTES = 32


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which variable and why."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from error


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as error:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from error


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list; blanks dropped."""
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


# Persisted queries: "apq" registers and serves Automatic Persisted Queries; "allowlist" runs
# only operations the operator registered (`wardgraph operations add`); "off" ignores them.
PERSISTED_QUERY_MODES = ("apq", "allowlist", "off")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def parse_duration(text: str) -> int:
    """Seconds in '90s', '15m', '8h', '7d' or a bare number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(text[:-1]) * units[text[-1]]
        return int(text)
    except ValueError as error:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 90s, 15m, 8h, 7d)") from error


@dataclass(frozen=True)
class Limits:
    """Per-request limits; each has a default and a WARDGRAPH_* variable."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 5000
    max_page_size: int = 100
    max_body_bytes: int = 1_000_000
    statement_timeout_ms: int = 5000
    rate_limit_per_minute: int = 600
    # Alerts waiting for one slow WebSocket subscriber before its socket is closed.
    subscription_queue_size: int = 100


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str | None = None
    admin_database_url: str | None = None
    data_dir: Path = Path(".wardgraph")
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str = "wardgraph"
    jwt_audience: str | None = None
    login_token_ttl_seconds: int = 15 * 60
    pool_min_size: int = 2
    pool_max_size: int = 20
    pool_timeout_seconds: float = 5.0
    limits: Limits = field(default_factory=Limits)
    cors_origins: tuple[str, ...] = ()
    persisted_queries: str = "apq"
    # How often an open subscription re-checks its token (expiry, revocation) between alerts.
    subscription_recheck_seconds: float = 30.0
    log_level: str = "INFO"
    # How long `wardgraph migrate` waits for a lock before it gives up (and can be retried).
    migration_lock_timeout_seconds: int = 5

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        limits = Limits(
            max_depth=_int(env, "WARDGRAPH_MAX_DEPTH", Limits.max_depth),
            max_aliases=_int(env, "WARDGRAPH_MAX_ALIASES", Limits.max_aliases),
            max_tokens=_int(env, "WARDGRAPH_MAX_TOKENS", Limits.max_tokens),
            max_cost=_int(env, "WARDGRAPH_MAX_COST", Limits.max_cost),
            max_page_size=_int(env, "WARDGRAPH_MAX_PAGE_SIZE", Limits.max_page_size),
            max_body_bytes=_int(env, "WARDGRAPH_MAX_BODY_BYTES", Limits.max_body_bytes),
            statement_timeout_ms=_int(
                env, "WARDGRAPH_STATEMENT_TIMEOUT_MS", Limits.statement_timeout_ms
            ),
            rate_limit_per_minute=_int(
                env, "WARDGRAPH_RATE_LIMIT_PER_MINUTE", Limits.rate_limit_per_minute
            ),
            subscription_queue_size=_int(
                env, "WARDGRAPH_SUBSCRIPTION_QUEUE_SIZE", Limits.subscription_queue_size
            ),
        )
        public_key = env.get("WARDGRAPH_JWT_PUBLIC_KEY") or None
        if public_key and not public_key.lstrip().startswith("-----"):
            public_key = Path(public_key).read_text(encoding="utf-8")
        settings = cls(
            env=env.get("WARDGRAPH_ENV", "development"),
            database_url=env.get("WARDGRAPH_DATABASE_URL") or None,
            admin_database_url=env.get("WARDGRAPH_ADMIN_DATABASE_URL") or None,
            data_dir=Path(env.get("WARDGRAPH_DATA_DIR") or ".wardgraph"),
            host=env.get("WARDGRAPH_HOST", "127.0.0.1"),
            port=_int(env, "WARDGRAPH_PORT", 8000),
            jwt_secret=env.get("WARDGRAPH_JWT_SECRET") or None,
            jwt_public_key=public_key,
            jwt_issuer=env.get("WARDGRAPH_JWT_ISSUER", "wardgraph"),
            jwt_audience=env.get("WARDGRAPH_JWT_AUDIENCE") or None,
            login_token_ttl_seconds=parse_duration(env.get("WARDGRAPH_LOGIN_TOKEN_TTL", "15m")),
            pool_min_size=_int(env, "WARDGRAPH_POOL_MIN_SIZE", 2),
            pool_max_size=_int(env, "WARDGRAPH_POOL_MAX_SIZE", 20),
            pool_timeout_seconds=_float(env, "WARDGRAPH_POOL_TIMEOUT_SECONDS", 5.0),
            limits=limits,
            cors_origins=_list(env, "WARDGRAPH_CORS_ORIGINS"),
            persisted_queries=env.get("WARDGRAPH_PERSISTED_QUERIES", "apq").strip().lower(),
            subscription_recheck_seconds=_float(
                env, "WARDGRAPH_SUBSCRIPTION_RECHECK_SECONDS", 30.0),
            log_level=env.get("WARDGRAPH_LOG_LEVEL", "INFO").strip().upper(),
            migration_lock_timeout_seconds=parse_duration(
                env.get("WARDGRAPH_MIGRATION_LOCK_TIMEOUT") or "5s"),
        )
        if settings.env not in ("development", "production"):
            raise ConfigError("WARDGRAPH_ENV must be 'development' or 'production'")
        if settings.persisted_queries not in PERSISTED_QUERY_MODES:
            raise ConfigError("WARDGRAPH_PERSISTED_QUERIES must be one of "
                              + ", ".join(PERSISTED_QUERY_MODES))
        if settings.migration_lock_timeout_seconds < 1:
            raise ConfigError("WARDGRAPH_MIGRATION_LOCK_TIMEOUT must be at least 1s")
        if settings.log_level not in LOG_LEVELS:
            raise ConfigError("WARDGRAPH_LOG_LEVEL must be one of " + ", ".join(LOG_LEVELS))
        return settings

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def require_secret(self) -> Settings:
        """The settings with a JWT secret, or a ConfigError.

        In development the secret is generated once and kept in the data directory, so tokens
        printed by --demo survive a restart. In production it must be given, and be long enough.
        """
        if self.jwt_secret:
            if self.production and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"WARDGRAPH_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes in production"
                )
            return self
        if self.production:
            raise ConfigError("WARDGRAPH_JWT_SECRET is required when WARDGRAPH_ENV=production")
        path = self.data_dir / DEV_SECRET_FILE
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                # Written aside and renamed: a full disk must not leave an empty secret behind.
                staging = path.with_name(f".{DEV_SECRET_FILE}.{os.getpid()}")
                staging.write_text(secrets.token_urlsafe(48), encoding="utf-8")
                staging.chmod(0o600)
                staging.replace(path)
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"cannot keep the development JWT secret in {self.data_dir} ({error.strerror}); "
                f"set WARDGRAPH_DATA_DIR to a writable folder with free space, or set "
                f"WARDGRAPH_JWT_SECRET") from error
        return replace(self, jwt_secret=secret)


@dataclass(frozen=True)
class DatabaseLocation:
    """The parts of a database URL a message may name (never the password)."""

    user: str
    password: str | None
    host: str
    port: int
    database: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.database} as {self.user}"


def database_location(url: str) -> DatabaseLocation:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    user = unquote(parts.username) if parts.username else query.get("user", ["postgres"])[0]
    password = unquote(parts.password) if parts.password is not None else None
    database = unquote(parts.path.lstrip("/")) or user
    try:
        port = parts.port or int(query.get("port", ["5432"])[0])
    except ValueError:
        port = 5432
    return DatabaseLocation(user, password, host, port, database)
