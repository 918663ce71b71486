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

from wardgraph import auth
from wardgraph.claims import Claims, Role
from wardgraph.config import ConfigError, Settings, parse_duration
from wardgraph.db import organisation
from wardgraph.db.operator import as_tenant_admin, fetch_tenant_by_slug, insert_tenant
from wardgraph.db.persisted_queries import upsert_allow_listed
from wardgraph.db.target import DatabaseTarget, open_target
from wardgraph.migrations import runner
from wardgraph.persisted_queries import Operation, operations_of
from wardgraph.policy_tools import command as policy_command
from wardgraph.policy_tools.connection import AuditError


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().with_overrides(
        host=getattr(args, "host", None), port=getattr(args, "port", None)
    )


def _fail(message: str) -> int:
    print(f"wardgraph: {message}", file=sys.stderr)
    return 2


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from wardgraph.app import create_app
    from wardgraph.demo import describe, seed_demo
    from wardgraph.log_config import configure_logging

    settings = _settings(args).require_secret()
    target = open_target(settings)
    try:
        runner.upgrade(target.admin_url)
        url = f"http://{settings.host}:{settings.port}/graphql"
        if args.demo:
            tenants = asyncio.run(seed_demo(target.admin_url))
            print(describe(settings, tenants, url), flush=True)
        print(f"wardgraph serving {url}" + ("" if settings.production else " (GraphiQL there)"),
              flush=True)
        # uvicorn finishes in-flight requests on SIGTERM, then re-raises the signal; with the
        # default handler that would end the process before the embedded server is stopped.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        # One JSON object per line (wardgraph.log_config); uvicorn keeps its hands off logging.
        configure_logging(settings.log_level)
        uvicorn.run(
            create_app(settings, target.api_url),
            host=settings.host, port=settings.port, log_config=None,
            timeout_graceful_shutdown=10,
        )
    finally:
        target.stop()
    return 0


def _with_target(args: argparse.Namespace) -> DatabaseTarget:
    return open_target(_settings(args))


# Offline migrations only print SQL: alembic needs a dialect from the URL, never a server.
OFFLINE_URL = "postgresql://offline/wardgraph"


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
    target = _with_target(args)
    try:
        runner.upgrade(target.admin_url)
    finally:
        target.stop()
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from wardgraph.demo import describe, seed_demo

    settings = _settings(args).require_secret()
    target = open_target(settings)
    try:
        runner.upgrade(target.admin_url)
        tenants = asyncio.run(seed_demo(target.admin_url))
        print(describe(settings, tenants, f"http://{settings.host}:{settings.port}/graphql"))
    finally:
        target.stop()
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
        runner.upgrade(target.admin_url)
        print(asyncio.run(_tenant_create(target.admin_url, args.slug, args.name)))
    except asyncpg.UniqueViolationError:
        return _fail(f"a tenant with slug {args.slug!r} already exists")
    except asyncpg.CheckViolationError:
        return _fail("a slug is 2-63 lower-case letters, digits or hyphens")
    finally:
        target.stop()
    return 0


async def _user_create(admin_url: str, args: argparse.Namespace, password: str | None) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        tenant = await fetch_tenant_by_slug(connection, args.tenant)
        if tenant is None:
            raise LookupError(f"no tenant {args.tenant!r}")
        async with as_tenant_admin(connection, tenant["tenant_id"]) as session:
            codes = [c.upper() for c in args.facility or []]
            found = await session.fetch(
                "select code, id from app.facilities where tenant_id = $1 and code = any($2)",
                tenant["tenant_id"], codes)
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
        print(asyncio.run(_user_create(target.admin_url, args, password)))
    except LookupError as error:
        return _fail(str(error))
    except asyncpg.UniqueViolationError:
        return _fail(f"a user with e-mail {args.email!r} already exists in {args.tenant}")
    except asyncpg.CheckViolationError:
        return _fail(f"{args.email!r} is not an e-mail address")
    finally:
        target.stop()
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
    target = open_target(settings)
    try:
        row = asyncio.run(_lookup_user(target.admin_url, args.tenant, args.email))
    finally:
        target.stop()
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
        runner.upgrade(target.admin_url)
        asyncio.run(_allow_list(target.admin_url, operations))
    finally:
        target.stop()
    for operation in operations:
        print(f"{operation.sha256}  {operation.name or '(anonymous)'}")
    return 0


def cmd_policies(args: argparse.Namespace) -> int:
    target = _with_target(args)
    try:
        return policy_command.run(target.admin_url, output_format=args.format,
                                  drift=args.check, lints=args.lint)
    except AuditError as error:
        return _fail(str(error))
    finally:
        target.stop()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every chain is intact, 1 when one is broken (tampering), 2 when the check
    cannot run."""
    from wardgraph.audit_verify import VerifyError, verify

    target = _with_target(args)
    try:
        reports = asyncio.run(verify(target.admin_url, args.tenant))
    except VerifyError as error:
        return _fail(str(error))
    finally:
        target.stop()
    for report in reports:
        print(report.line())
    broken = [r for r in reports if not r.intact]
    print(f"{len(reports)} tenant(s) verified, {len(broken)} broken")
    return 1 if broken else 0


def cmd_billing_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every tenant's ledger matches its stays, 1 when one differs, 2 when the
    check cannot run."""
    from wardgraph.billing_verify import VerifyError, verify

    target = _with_target(args)
    try:
        reports = asyncio.run(verify(target.admin_url, args.tenant))
    except VerifyError as error:
        return _fail(str(error))
    finally:
        target.stop()
    for report in reports:
        print(report.line())
    differing = [r for r in reports if not r.matches]
    print(f"{len(reports)} tenant(s) verified, {len(differing)} differ")
    return 1 if differing else 0


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

    billing = commands.add_parser("billing", help="bed-day billing").add_subparsers(
        dest="action", required=True)
    billing_verify = billing.add_parser(
        "verify", help="recompute each admission's net charges from its stays; exit 1 on the "
        "first difference")
    billing_verify.add_argument("--tenant", metavar="SLUG", help="only this tenant")
    billing_verify.set_defaults(run=cmd_billing_verify)

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
    return code


if __name__ == "__main__":
    sys.exit(main())
