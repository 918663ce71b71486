"""One world for the whole security package: building it is most of the suite's set-up time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.harness import Api, DatabaseUnderTest
from tests.security.world import World, build_world


@pytest.fixture(scope="package")
async def world(api: Api, database: DatabaseUnderTest) -> AsyncIterator[World]:
    built = await build_world(api, database.admin_url)
    try:
        yield built
    finally:
        await built.supplies.connection.close()
