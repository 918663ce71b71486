"""The printed schema is the contract: schema.graphql is committed and must be current."""

from __future__ import annotations

from importlib import resources

from wardgraph.schema import sdl


def test_committed_schema_graphql_matches_the_code() -> None:
    committed = resources.files("wardgraph").joinpath("schema.graphql").read_text("utf-8")
    assert committed == sdl(), "run `make schema` and commit wardgraph/schema.graphql"


def test_every_type_and_field_has_a_description() -> None:
    from graphql import GraphQLObjectType

    from wardgraph.schema import build_schema

    schema = build_schema()._schema
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        if not graphql_type.description:
            missing.append(name)
        missing += [f"{name}.{field}" for field, definition in graphql_type.fields.items()
                    if not definition.description]
    assert missing == []
