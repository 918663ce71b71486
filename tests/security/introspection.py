"""What the schema offers, read from the schema itself: every root field, the id arguments
each takes (top level or inside its input), the types an abstract field can return, and a
document that asks a field with all its arguments as variables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)

from wardgraph.schema import build_schema

ROOTS = {"Query": "query", "Mutation": "mutation", "Subscription": "subscription"}


def schema() -> GraphQLSchema:
    return build_schema()._schema


def root_fields(graphql_schema: GraphQLSchema) -> dict[str, GraphQLField]:
    """Every root field as "Query.patient", "Mutation.admitPatient", ..."""
    found: dict[str, GraphQLField] = {}
    for root in ROOTS:
        root_type = graphql_schema.get_type(root)
        if isinstance(root_type, GraphQLObjectType):
            found.update({f"{root}.{name}": f for name, f in root_type.fields.items()})
    return found


def _is_list(graphql_type: GraphQLInputType) -> bool:
    inner = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    return isinstance(inner, GraphQLList)


def _id_paths(prefix: str, graphql_type: GraphQLInputType, depth: int) -> Iterator[str]:
    named = get_named_type(graphql_type)
    if named is GraphQLID:
        yield prefix + ("[]" if _is_list(graphql_type) else "")
    elif isinstance(named, GraphQLInputObjectType) and depth < 4:
        for name, input_field in named.fields.items():
            yield from _id_paths(f"{prefix}.{name}", input_field.type, depth + 1)


def id_paths(graphql_field: GraphQLField) -> set[str]:
    """Where the field takes an id: "id", "input.patientId", "input.facilityIds[]"."""
    return {path for name, argument in graphql_field.args.items()
            for path in _id_paths(name, argument.type, 0)}


def possible_types(graphql_schema: GraphQLSchema, graphql_field: GraphQLField) -> set[str] | None:
    """The object types an interface or union field may return; None for a concrete type."""
    named = get_named_type(graphql_field.type)
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        return {t.name for t in graphql_schema.get_possible_types(named)}
    return None


def selection(graphql_type: GraphQLOutputType) -> str:
    """Enough to tell data from nothing: the type, the id, and a connection's edges."""
    named = get_named_type(graphql_type)
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        parts = ["__typename"]
        parts += ["id"] if "id" in named.fields else []
        parts += ["edges { cursor }"] if "edges" in named.fields else []
        return "{ " + " ".join(parts) + " }"
    if isinstance(named, GraphQLUnionType):
        return "{ __typename }"
    return ""


def document(key: str, graphql_field: GraphQLField) -> str:
    root, name = key.split(".")
    arguments = graphql_field.args
    declared = ", ".join(f"${a}: {arguments[a].type}" for a in arguments)
    passed = ", ".join(f"{a}: ${a}" for a in arguments)
    head = f"{ROOTS[root]} Probe" + (f"({declared})" if arguments else "")
    call = f"{name}({passed})" if arguments else name
    return f"{head} {{ {call} {selection(graphql_field.type)} }}"


def with_id(variables: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """The variables with the id put at `path` ("input.facilityIds[]" takes a list of one)."""
    *parents, last = path.split(".")
    target = variables
    for parent in parents:
        target = target.setdefault(parent, {})
    if last.endswith("[]"):
        target[last[:-2]] = [value]
    else:
        target[last] = value
    return variables


@dataclass(frozen=True)
class Cell:
    key: str  # "Query.patient"
    path: str | None  # the id argument probed; None when asked without an id
    type_name: str | None
    caller: str
    kind: str | None  # which id: own, other-facility, other-tenant, nonexistent, wrong-type

    @property
    def name(self) -> str:
        probe = f"[{self.path}:{self.type_name}]" if self.path else ""
        return f"{self.key}{probe}-{self.caller}" + (f"-{self.kind}" if self.kind else "")

    @property
    def probe_key(self) -> tuple[str, ...]:
        return (self.key, self.path or "", self.type_name or "", self.caller)
