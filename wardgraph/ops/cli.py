"""The `wardgraph` command: the platform operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from alembic.util import CommandError

from wardgraph.auth import tokens as auth
from wardgraph.auth.claims import Claims, Role
from wardgraph.config import ConfigError, Settings, parse_duration
from wardgraph.db import organisation
from wardgraph.db.operator import (
    OPERATOR_STATEMENT_TIMEOUT_MS,
    fetch_facility_ids_by_code,
    fetch_tenant_by_slug,
    insert_tenant,
    tenant_admin,
)
from wardgraph.db.persisted_queries import upsert_allow_listed
from wardgraph.db.session import claimed_transaction
from wardgraph.db.target import DatabaseTarget, open_target
from wardgraph.migrations import runner, startup_checks
from wardgraph.migrations.api_password import api_password_in, set_api_password
from wardgraph.migrations.failures import MigrationFailed, migrate_or_explain
from wardgraph.ops.policy_tools import command as policy_command
from wardgraph.ops.policy_tools.connection import AuditError
from wardgraph.pipeline.persisted import Operation, operations_of
from wardgraph.server.port_check import ensure_port_free


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().with_overrides(
        host=getattr(args, "host", None), port=getattr(args, "port", None)
    )


def _fail(message: str) -> int:
    print(f"wardgraph: {message}", file=sys.stderr)
    return 2


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _open(settings: Settings, *, need_admin: bool = True) -> DatabaseTarget:
    """The database, checked: a configured server that cannot be reached ends in one line."""
    target = open_target(settings, need_admin=need_admin)
    if target.embedded is None and target.admin_url is not None:
        startup_checks.check_reachable(target.admin_url, startup_checks.ADMIN_SETTING)
    return target


def _migrate(settings: Settings, target: DatabaseTarget) -> None:
    """Migrate to head; a role without what migrations need, or a database error, ends in one
    line (ConfigError, MigrationFailed)."""
    admin_url = target.require_admin()
    if target.embedded is None:
        startup_checks.check_migration_role(admin_url)
    seconds = settings.migration_lock_timeout_seconds
    migrate_or_explain(lambda: runner.upgrade(admin_url, lock_timeout_seconds=seconds), seconds)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from wardgraph.ops.demo import describe, seed_demo
    from wardgraph.server.app import create_app
    from wardgraph.server.log import configure_logging

    # uvicorn finishes in-flight requests on SIGTERM, then re-raises the signal; with the
    # default handler that would end the process before the embedded server is left (and
    # so would a SIGTERM while the server starts, before uvicorn runs at all).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    settings = _settings(args).require_secret()
    ensure_port_free(settings.host, settings.port)
    target = _open(settings, need_admin=False)
    try:
        # With the migration role's URL, serve migrates first; with the API's alone (the
        # production setup: the API holds no DDL rights), it only checks the schema.
        if target.admin_url is not None:
            _migrate(settings, target)
        startup_checks.check_api_role(target.api_url)
        url = f"http://{settings.host}:{settings.port}/graphql"
        if args.demo:
            tenants = asyncio.run(seed_demo(target.require_admin()))
            print(describe(settings, tenants, url), flush=True)
        print(f"wardgraph serving {url}" + ("" if settings.production else " (GraphiQL there)"),
              flush=True)
        # One JSON object per line (wardgraph.server.log); uvicorn keeps its hands off logging.
        configure_logging(settings.log_level)
        uvicorn.run(
            create_app(settings, target.api_url),
            host=settings.host, port=settings.port, log_config=None,
            timeout_graceful_shutdown=10,
        )
    finally:
        target.close()
    return 0


def _with_target(args: argparse.Namespace) -> DatabaseTarget:
    return _open(_settings(args))


# Offline migrations only print SQL: alembic needs a dialect from the URL, never a server.
OFFLINE_URL = "postgresql://offline/wardgraph"


# `wardgraph migrate` exits with this when a lock was not granted in time: EX_TEMPFAIL, so
# that a deploy script can tell "run it again" from "fix something first".
EXIT_RETRY = 75
EXIT_BEHIND = 1


def cmd_migrate(args: argparse.Namespace) -> int:
    if args.sql:
        start = f"{args.from_revision}:" if args.from_revision else ""
        try:
            runner.upgrade(OFFLINE_URL, f"{start}head", sql=True)
        except CommandError as error:  # an unknown revision, say
            return _fail(str(error))
        return 0
    if args.from_revision:
        return _fail("--from is for --sql (printing a release's SQL from that revision)")
    settings = _settings(args)
    if args.check:
        return _check_schema(settings)
    target = _open(settings)
    try:
        admin_url = target.require_admin()
        try:
            _migrate(settings, target)
        except MigrationFailed as failure:
            print(f"wardgraph: {failure}", file=sys.stderr)
            return EXIT_RETRY if failure.retryable else 2
        password = api_password_in(settings.database_url)
        if password is not None:
            set_api_password(admin_url, password)
            print("wg_api's password is set from WARDGRAPH_DATABASE_URL")
        print(startup_checks.schema_state(admin_url, startup_checks.ADMIN_SETTING).message)
    finally:
        target.close()
    return 0


def _check_schema(settings: Settings) -> int:
    """Exit 0 when this version's `wardgraph migrate` has nothing to do, 1 when the database
    is behind. Any role that can connect may ask: the API's URL does, for a readiness probe."""
    target = _open(settings, need_admin=not settings.database_url)
    try:
        if target.admin_url is not None:
            url, setting = target.admin_url, startup_checks.ADMIN_SETTING
        else:
            url, setting = target.api_url, startup_checks.API_SETTING
        state = startup_checks.schema_state(url, setting)
    finally:
        target.close()
    if state.behind:
        print(f"wardgraph: {state.message}: run `wardgraph migrate`", file=sys.stderr)
        return EXIT_BEHIND
    print(state.message)
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from wardgraph.ops.demo import describe, seed_demo

    settings = _settings(args).require_secret()
    target = _open(settings)
    try:
        admin_url = target.require_admin()
        _migrate(settings, target)
        tenants = asyncio.run(seed_demo(admin_url))
        print(describe(settings, tenants, f"http://{settings.host}:{settings.port}/graphql"))
    finally:
        target.close()
    return 0


async def _tenant_create(admin_url: str, slug: str, name: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        row = await insert_tenant(connection, slug, name)
        return str(row["tenant_id"])
    finally:
        await connection.close()


def cmd_tenant_create(args: argparse.Namespace) -> int:
    target = _with_target(args)
    try:
        admin_url = target.require_admin()
        _migrate(_settings(args), target)
        print(asyncio.run(_tenant_create(admin_url, args.slug, args.name)))
    except asyncpg.UniqueViolationError:
        return _fail(f"a tenant with slug {args.slug!r} already exists")
    except asyncpg.CheckViolationError:
        return _fail("a slug is 2-63 lower-case letters, digits or hyphens")
    finally:
        target.close()
    return 0


async def _user_create(admin_url: str, args: argparse.Namespace, password: str | None) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        tenant = await fetch_tenant_by_slug(connection, args.tenant)
        if tenant is None:
            raise LookupError(f"no tenant {args.tenant!r}")
        async with claimed_transaction(
            connection, tenant_admin(tenant["tenant_id"]), "cli", OPERATOR_STATEMENT_TIMEOUT_MS
        ) as session:
            codes = [c.upper() for c in args.facility or []]
            found = await fetch_facility_ids_by_code(session, tenant["tenant_id"], codes)
            missing = set(codes) - {r["code"] for r in found}
            if missing:
                raise LookupError(f"no facility {', '.join(sorted(missing))} in {args.tenant}")
            row = await organisation.insert_user(
                session, tenant["tenant_id"], args.email, args.name or "", args.role.upper(),
                auth.hash_password(password) if password else None, [r["id"] for r in found])
            return str(row["id"])
    finally:
        await connection.close()


def cmd_user_create(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if password is not None and len(password) < 12:
        return _fail("a password has at least 12 characters")
    target = _with_target(args)
    try:
        print(asyncio.run(_user_create(target.require_admin(), args, password)))
    except LookupError as error:
        return _fail(str(error))
    except asyncpg.UniqueViolationError:
        return _fail(f"a user with e-mail {args.email!r} already exists in {args.tenant}")
    except asyncpg.CheckViolationError:
        return _fail(f"{args.email!r} is not an e-mail address")
    finally:
        target.close()
    return 0


async def _lookup_user(admin_url: str, tenant: str, email: str) -> asyncpg.Record | None:
    connection = await asyncpg.connect(admin_url)
    try:
        row: asyncpg.Record | None = await connection.fetchrow(
            "select tenant_id, user_id, role::text as role, facility_ids "
            "from auth.login_lookup($1, $2)", tenant, email)
        return row
    finally:
        await connection.close()


def cmd_token_issue(args: argparse.Namespace) -> int:
    settings = _settings(args).require_secret()
    target = _open(settings)
    try:
        row = asyncio.run(_lookup_user(target.require_admin(), args.tenant, args.email))
    finally:
        target.close()
    if row is None:
        return _fail(f"no user {args.email!r} in tenant {args.tenant!r}")
    claims = Claims(tenant_id=row["tenant_id"], role=Role(row["role"]), user_id=row["user_id"],
                    facility_ids=tuple(row["facility_ids"]))
    ttl = timedelta(seconds=parse_duration(args.ttl))
    print(auth.issue_user_token(settings, claims, datetime.now(UTC), ttl))
    return 0


async def _allow_list(admin_url: str, operations: list[Operation]) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        async with connection.transaction():
            for operation in operations:
                await upsert_allow_listed(connection, operation.sha256, operation.text)
    finally:
        await connection.close()


def cmd_operations_add(args: argparse.Namespace) -> int:
    """Allow-list every operation of each file; print each one's hash, the id clients send."""
    from wardgraph.schema import build_schema

    schema = build_schema()._schema
    operations: list[Operation] = []
    for path in args.files:
        try:
            operations += operations_of(Path(path).read_text(encoding="utf-8"), schema)
        except OSError as error:
            return _fail(f"cannot read {path}: {error.strerror}")
        except ValueError as error:
            return _fail(f"{path}: {error}")
    target = _with_target(args)
    try:
        admin_url = target.require_admin()
        _migrate(_settings(args), target)
        asyncio.run(_allow_list(admin_url, operations))
    finally:
        target.close()
    for operation in operations:
        print(f"{operation.sha256}  {operation.name or '(anonymous)'}")
    return 0


def cmd_policies(args: argparse.Namespace) -> int:
    target = _with_target(args)
    try:
        return policy_command.run(target.require_admin(), output_format=args.format,
                                  drift=args.check, lints=args.lint)
    except AuditError as error:
        return _fail(str(error))
    finally:
        target.close()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every chain is intact, 1 when one is broken (tampering), 2 when the check
    cannot run."""
    from wardgraph.ops.audit_verify import VerifyError, verify

    target = _with_target(args)
    try:
        reports = asyncio.run(verify(target.require_admin(), args.tenant))
    except VerifyError as error:
        return _fail(str(error))
    finally:
        target.close()
    for report in reports:
        print(report.line())
    broken = [r for r in reports if not r.intact]
    print(f"{len(reports)} tenant(s) verified, {len(broken)} broken")
    return 1 if broken else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wardgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (embedded Postgres by default)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="seed demo data and print tokens")
    serve.set_defaults(run=cmd_serve)

    migrate = commands.add_parser("migrate", help="apply migrations and policies")
    migrate.add_argument("--sql", action="store_true", help="print the SQL instead (offline)")
    migrate.add_argument("--from", dest="from_revision", metavar="REV",
                         help="with --sql: start at this revision, e.g. the last release's")
    migrate.add_argument("--check", action="store_true",
                         help="exit 0 when the database is up to date, 1 when it is behind")
    migrate.set_defaults(run=cmd_migrate)

    seed = commands.add_parser("seed-demo", help="seed demo data and print tokens")
    seed.set_defaults(run=cmd_seed_demo)

    tenant = commands.add_parser("tenant", help="tenants").add_subparsers(
        dest="action", required=True)
    tenant_create = tenant.add_parser("create", help="create a tenant")
    tenant_create.add_argument("slug")
    tenant_create.add_argument("--name", required=True)
    tenant_create.set_defaults(run=cmd_tenant_create)

    user = commands.add_parser("user", help="users").add_subparsers(dest="action", required=True)
    user_create = user.add_parser("create", help="create a user")
    user_create.add_argument("--tenant", required=True)
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--role", required=True,
                             choices=[r.value for r in Role if r is not Role.PARTNER]
                             + [r.value.lower() for r in Role if r is not Role.PARTNER])
    user_create.add_argument("--facility", action="append", metavar="CODE")
    user_create.add_argument("--name")
    user_create.add_argument("--password-stdin", action="store_true")
    user_create.set_defaults(run=cmd_user_create)

    token = commands.add_parser("token", help="tokens").add_subparsers(
        dest="action", required=True)
    token_issue = token.add_parser("issue", help="print a bearer token for a user")
    token_issue.add_argument("--tenant", required=True)
    token_issue.add_argument("--email", required=True)
    token_issue.add_argument("--ttl", default="8h")
    token_issue.set_defaults(run=cmd_token_issue)

    policies = commands.add_parser(
        "policies", help="the live policy matrix; --check for drift, --lint for security lints")
    policies.add_argument("--format", choices=policy_command.FORMATS, default="table",
                          help="how to print the matrix (markdown: docs/policies.md)")
    policies.add_argument("--check", action="store_true",
                          help="compare the live catalog with wardgraph/policies/; exit 1 on drift")
    policies.add_argument("--lint", action="store_true",
                          help="run the security lints; exit 1 on any finding")
    policies.set_defaults(run=cmd_policies)

    audit = commands.add_parser("audit", help="the PHI audit trail").add_subparsers(
        dest="action", required=True)
    audit_verify = audit.add_parser(
        "verify", help="recompute each tenant's hash chain; exit 1 on the first broken link")
    audit_verify.add_argument("--tenant", metavar="SLUG", help="only this tenant")
    audit_verify.set_defaults(run=cmd_audit_verify)

    operations = commands.add_parser(
        "operations", help="the allow-list of GraphQL operations (persisted queries)"
    ).add_subparsers(dest="action", required=True)
    operations_add = operations.add_parser(
        "add", help="allow-list each operation of .graphql files; prints their SHA-256 hashes")
    operations_add.add_argument("files", nargs="+", metavar="FILE.graphql")
    operations_add.set_defaults(run=cmd_operations_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as error:
        return _fail(str(error))
    except KeyboardInterrupt:  # Ctrl-C before serving (during initdb, say): no traceback
        print("wardgraph: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
