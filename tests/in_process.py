"""Running one GraphQL document in-process on the live database, as a token's caller, in a
transaction of its own that is rolled back: what tests compare between two ways of answering."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg

from tests.dashboard import Ward
from tests.harness import settings_for_tests
from wardgraph.auth.authenticate import authenticate
from wardgraph.context import AppState, RequestContext
from wardgraph.pipeline.planned import PlannedQueries
from wardgraph.schema import build_schema


def ward_variables(ward: Ward) -> dict[str, Any]:
    return {"ward": ward.ward_id}


@dataclass
class Answer:
    data: Any
    errors: list[tuple[str, Any, Any]]
    audit: Counter[Any]  # with repeats: an abandoned plan leaves no event behind
    planned: bool


async def answer(pool: asyncpg.Pool, planned: bool, token: str, query: str,
                 variables: dict[str, Any]) -> Answer:
    schema = build_schema(PlannedQueries) if planned else build_schema()
    context = RequestContext(state=AppState(settings_for_tests(), pool))
    await authenticate(context, f"Bearer {token}")
    try:
        result = await schema.execute(query, variables, context_value=context)
    finally:
        await context.finish(commit=False)
    errors = [(e.message, e.path, (e.extensions or {}).get("code")) for e in result.errors or []]
    return Answer(result.data, errors, Counter(context.audit), context.planned)
