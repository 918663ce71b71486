"""The GraphQL schema: types, inputs, enums and the Schema object (no SQL here)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import strawberry
from strawberry.extensions import SchemaExtension

from wardgraph.schema import organisation, patients
from wardgraph.schema.root import Mutation, Query, Subscription
from wardgraph.schema.scalars import SCALAR_MAP


@cache
def build_schema(
    *extensions: type[SchemaExtension] | Callable[[], SchemaExtension],
) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[organisation.Tenant, organisation.User, patients.Patient],
        extensions=list(extensions),
        config=strawberry.schema.config.StrawberryConfig(disable_field_suggestions=True,
                                                         scalar_map=SCALAR_MAP),
    )


def sdl() -> str:
    """The printed schema, committed as schema.graphql."""
    return build_schema().as_str() + "\n"
