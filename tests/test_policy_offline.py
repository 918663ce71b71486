"""One source, reviewable: `wardgraph migrate --sql` prints, without a database, the SQL a
release runs: the migrations' DDL, then every policy file in order, in one transaction; and
that SQL builds exactly the catalog an online upgrade builds."""

from __future__ import annotations

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from tests.harness import DatabaseUnderTest
from tests.policy_support import empty_database, run_cli
from wardgraph.migrations.runner import alembic_config
from wardgraph.migrations.sql_files import read_sql
from wardgraph.ops.cli import OFFLINE_URL
from wardgraph.ops.policy_tools.check import check
from wardgraph.policies import POLICY_FILES, read_policy


def migration_files() -> list[str]:
    """The up.sql files of every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(OFFLINE_URL))
    revisions = reversed(list(script.walk_revisions()))
    return [f"{revision.revision}.up.sql" for revision in revisions]


@pytest.fixture(scope="module")
async def offline_sql() -> str:
    result = await run_cli("migrate", "--sql")  # no database configured, none started
    assert result.returncode == 0, result.stderr
    return result.stdout


def positions(text: str, parts: list[str]) -> list[int]:
    found = [text.find(part.strip()) for part in parts]
    assert -1 not in found, [p for p, f in zip(parts, found, strict=True) if f == -1]
    return found


async def test_offline_sql_holds_every_migration_then_every_policy_file_in_order(
    offline_sql: str,
) -> None:
    files = migration_files()
    assert files[:3] == ["0001_foundation.up.sql", "0002_clinical.up.sql",
                         "0003_audit_schema.up.sql"]
    ddl = positions(offline_sql, [read_sql(name) for name in files])
    policies = positions(offline_sql, [f"-- policies/{name}\n" + read_policy(name)
                                       for name in POLICY_FILES])
    assert ddl == sorted(ddl) and policies == sorted(policies)
    assert ddl[-1] < policies[0]


async def test_offline_sql_is_one_transaction_that_records_the_head(offline_sql: str) -> None:
    statements = [line for line in offline_sql.splitlines() if line.strip()]
    assert (statements[0], statements[-1]) == ("BEGIN;", "COMMIT;")
    script = ScriptDirectory.from_config(alembic_config(OFFLINE_URL))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert (f"UPDATE alembic_version SET version_num='{head}' "
            f"WHERE alembic_version.version_num = '{previous}';") in statements


async def test_offline_sql_for_a_release_starts_at_the_last_release(offline_sql: str) -> None:
    result = await run_cli("migrate", "--sql", "--from", "0002_clinical")
    assert result.returncode == 0, result.stderr
    assert read_sql("0003_audit_schema.up.sql").strip() in result.stdout
    assert read_sql("0002_clinical.up.sql").strip() not in result.stdout
    assert read_policy("observations.sql").strip() in result.stdout


async def test_offline_sql_builds_the_catalog_the_policy_files_define(
    database: DatabaseUnderTest, offline_sql: str,
) -> None:
    async with empty_database(database.admin_url) as url:
        connection = await asyncpg.connect(url)  # as a DBA's psql would, default settings
        try:
            await connection.execute(offline_sql)
        finally:
            await connection.close()
        result = await check(url)
    assert result.differences == []
