"""Migrations: twice is a no-op; down to base and up again works."""

from __future__ import annotations

import asyncio

import pytest

from tests.factories import admin_fetch
from wardgraph.migrations import runner


async def catalog_fingerprint(url: str) -> list[tuple[object, ...]]:
    """Policy and grant objects with their oids: re-created objects get new oids."""
    rows = await admin_fetch(url, """
        select 'policy', p.oid::text, p.polname from pg_policy p
        union all
        select 'table', c.oid::text, c.relname || coalesce(c.relacl::text, '')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('app', 'platform')
        union all
        select 'version', version_num, '' from alembic_version
        order by 1, 2, 3""")
    return [tuple(r) for r in rows]


async def test_migrating_twice_changes_nothing(scratch_url: str) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url)
    before = await catalog_fingerprint(scratch_url)
    await asyncio.to_thread(runner.upgrade, scratch_url)
    assert await catalog_fingerprint(scratch_url) == before


async def test_downgrade_to_base_and_up_again(scratch_url: str) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url)
    await asyncio.to_thread(runner.downgrade, scratch_url, "base")
    schemas = await admin_fetch(scratch_url, """
        select nspname from pg_namespace where nspname in ('app', 'platform', 'auth')""")
    assert schemas == []
    await asyncio.to_thread(runner.upgrade, scratch_url)
    tables = await admin_fetch(scratch_url, """
        select count(*) as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app' and c.relkind = 'r'""")
    assert tables[0]["n"] >= 10
    policies = await admin_fetch(scratch_url, "select count(*) as n from pg_policies")
    assert policies[0]["n"] > 30


async def test_a_changed_policy_file_is_reapplied_on_the_next_migrate(
    scratch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wardgraph import policies
    from wardgraph.migrations import apply, stamp

    await asyncio.to_thread(runner.upgrade, scratch_url)
    original = policies.read_policy

    def with_extra_comment(name: str) -> str:
        text = original(name)
        if name == "wards.sql":
            text += "\ncomment on table app.wards is 'changed by a later release';\n"
        return text

    monkeypatch.setattr(policies, "read_policy", with_extra_comment)
    monkeypatch.setattr(apply, "read_policy", with_extra_comment)
    monkeypatch.setattr(stamp, "read_policy", with_extra_comment)
    await asyncio.to_thread(runner.upgrade, scratch_url)
    rows = await admin_fetch(scratch_url, "select obj_description('app.wards'::regclass) as c")
    assert rows[0]["c"] == "changed by a later release"
