"""The benchmark's PostgreSQL: an embedded server in a temporary folder, migrated, seeded, with
the login roles of the three systems under test and pg_stat_statements to count statements.

Durability is off (fsync, synchronous_commit, full_page_writes), as in the test suite: every
system writes to the same server, so the comparison is fair, but absolute write figures are
higher than on a durable server.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from wardgraph import news2
from wardgraph.db.embedded import THROWAWAY_SETTINGS, EmbeddedPostgres
from wardgraph.migrations import runner

BENCH_SETTINGS = {
    **THROWAWAY_SETTINGS,
    "shared_preload_libraries": "pg_stat_statements",
    "shared_buffers": "512MB",
    "max_connections": "400",
}

# The login roles: PostGraphile's, with the same memberships as the API's wg_api (it can become
# any request role and has no privilege of its own); and a role that bypasses RLS with the
# admin role's privileges, for the RLS overhead figures.
ROLES = """
do $roles$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'wg_postgraphile') then
        create role wg_postgraphile login noinherit;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'wg_bench_bypass') then
        create role wg_bench_bypass login inherit bypassrls;
    end if;
end
$roles$;
grant wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner to wg_postgraphile;
grant wg_admin to wg_bench_bypass;
-- The admin role records no observations; the bypassing role does, for the write figures.
grant insert on app.observations, app.escalations to wg_bench_bypass;
grant execute on all functions in schema app to wg_bench_bypass;
"""

PEER_SQL = Path(__file__).with_name("peer_postgraphile.sql")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def peer_sql() -> str:
    """The peer's SQL functions, with the clinical response texts of wardgraph.news2, so both
    systems answer the same words."""
    names = ("MONITORING_TOTAL_0", "MONITORING_TOTAL_1_TO_4", "MONITORING_RED_SCORE",
             "MONITORING_TOTAL_5_TO_6", "MONITORING_TOTAL_7_OR_MORE", "RESPONSE_TOTAL_0",
             "RESPONSE_TOTAL_1_TO_4", "RESPONSE_RED_SCORE", "RESPONSE_TOTAL_5_TO_6",
             "RESPONSE_TOTAL_7_OR_MORE")
    text = PEER_SQL.read_text(encoding="utf-8")
    for name in names:
        text = text.replace("{" + name + "}", _literal(getattr(news2, name)))
    return text


@dataclass
class BenchDatabase:
    folder: Path
    server: EmbeddedPostgres

    @property
    def admin_url(self) -> str:
        return self.server.url()

    def url(self, user: str) -> str:
        return self.server.url(user=user)

    @property
    def socket_dir(self) -> Path:
        return self.server.socket_dir

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> BenchDatabase:
    """A fresh server in a folder under /tmp, migrated (the folder is reachable by the server's
    service user when running as root)."""
    folder = Path(tempfile.mkdtemp(prefix="wardgraph-bench-", dir="/tmp"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(folder / "pg", settings=BENCH_SETTINGS)
    database = BenchDatabase(folder, server)
    try:
        server.start()
        server.ensure_database()
        runner.upgrade(server.url())
        asyncio.run(install_statistics(server.url()))
    except BaseException:
        database.stop()
        raise
    return database


async def prepare(admin_url: str) -> None:
    """The roles and the peer's functions, after the migrations and before seeding."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(ROLES)
        await connection.execute(peer_sql())
    finally:
        await connection.close()


async def install_statistics(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute("create extension if not exists pg_stat_statements")
    finally:
        await connection.close()
    await set_statement_tracking(admin_url, False)


async def set_statement_tracking(admin_url: str, on: bool) -> None:
    """pg_stat_statements counts top-level statements only while on: off while timing. (Set
    with ALTER SYSTEM, which a server option given at start would override.)"""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(
            f"alter system set pg_stat_statements.track = '{'top' if on else 'none'}'")
        await connection.execute("select pg_reload_conf()")
        await asyncio.sleep(0.5)  # every backend has the new setting before the next request
        if on:
            await connection.execute("select pg_stat_statements_reset()")
    finally:
        await connection.close()


# Every statement any client sent since the reset, but this counting connection's own.
COUNT_STATEMENTS = """
select coalesce(sum(calls), 0)::bigint from pg_stat_statements
where dbid = (select oid from pg_database where datname = current_database())
  and query !~* 'pg_stat_statements|pg_reload_conf|alter system'
"""

STATEMENT_KINDS = """
select query, calls from pg_stat_statements
where dbid = (select oid from pg_database where datname = current_database())
  and query !~* 'pg_stat_statements|pg_reload_conf|alter system'
order by calls desc, query
"""


async def statements_since_reset(admin_url: str) -> tuple[int, list[tuple[str, int]]]:
    """How many statements were run since tracking was switched on, and which."""
    connection = await asyncpg.connect(admin_url)
    try:
        total = int(await connection.fetchval(COUNT_STATEMENTS))
        kinds = [(r["query"], int(r["calls"])) for r in await connection.fetch(STATEMENT_KINDS)]
        return total, kinds
    finally:
        await connection.close()
