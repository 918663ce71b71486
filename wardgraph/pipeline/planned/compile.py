"""Compiling a query into a plan: its selections flattened once, per document, into the
resolvers to call and the serializers to apply.

Only what a plan reproduces exactly is compiled: query operations over object types, their
fields with or without strawberry resolvers, aliases, `__typename`, fragments whose type
condition is known statically, and arguments of the built-in scalar types. Anything else
(directives, interfaces or unions as field types, introspection, input objects, enums or custom
scalars as arguments, field extensions) is left to the general executor, and so is every
document a plan was not made for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from inspect import iscoroutinefunction
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.utilities import get_operation_ast
from strawberry.types.field import StrawberryField

DEFINITION = "strawberry-definition"


class NotPlannable(Exception):
    """The document uses something a plan does not reproduce: the general executor runs it."""


# -- what a plan is made of ---------------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    serialize: Callable[[Any], Any]


@dataclass(frozen=True)
class ListOf:
    item: TypePlan


@dataclass(frozen=True)
class NonNull:
    inner: TypePlan


@dataclass
class ObjectPlan:
    type_name: str
    is_type_of: Callable[[Any, Any], Any] | None
    fields: list[FieldPlan] = field(default_factory=list)
    # No resolver anywhere below is a coroutine function: completed without awaiting.
    synchronous: bool = True


TypePlan = Leaf | ListOf | NonNull | ObjectPlan


@dataclass(frozen=True)
class FieldPlan:
    key: str  # the response key: the alias, or the field's name
    type_plan: TypePlan | None  # None for __typename
    attribute: str | None = None  # a field without resolver reads this attribute
    resolver: Callable[..., Any] | None = None
    is_async: bool = False
    passes_source: bool = False  # the resolver takes `self`
    source_keyword: str | None = None  # ... or `root` / `parent`
    info_keyword: str | None = None
    field_definition: GraphQLField | None = None
    field_node: FieldNode | None = None
    arguments: dict[str, str] | None = None  # GraphQL name -> Python name, when any
    # Neither this field's resolver nor any below it is a coroutine function.
    synchronous: bool = True
    # The common case, completed inline: an attribute of a scalar or enum type.
    leaf_serialize: Callable[[Any], Any] | None = None
    non_null: bool = False
    # A value of exactly this Python type serialises to itself (str for String and ID, bool
    # for Boolean, int for Int within 32 bits): no call needed.
    unchanged_type: type | None = None


@dataclass(frozen=True)
class OperationPlan:
    operation: OperationDefinitionNode
    root: ObjectPlan


# -- compiling ----------------------------------------------------------------------------------

# Arguments of these types reach resolvers as graphql-core coerced them: strawberry converts
# nothing (enums, input objects and custom scalars it does convert are not planned).
BUILT_IN_SCALARS = frozenset({"ID", "String", "Int", "Float", "Boolean"})


def compile_operation(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> OperationPlan:
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        raise NotPlannable("only queries are planned")
    if operation.directives or schema.query_type is None:
        raise NotPlannable("directives")
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    compiler = _Compiler(schema, fragments)
    return OperationPlan(operation, compiler.object_plan(schema.query_type,
                                                         [operation.selection_set]))


class _Compiler:
    def __init__(self, schema: GraphQLSchema,
                 fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments

    def object_plan(self, object_type: GraphQLObjectType,
                    selection_sets: Iterable[SelectionSetNode]) -> ObjectPlan:
        plan = ObjectPlan(object_type.name, object_type.is_type_of)
        grouped: dict[str, list[FieldNode]] = {}
        spread: set[str] = set()
        for selection_set in selection_sets:
            self._collect(object_type, selection_set, grouped, spread)
        for key, nodes in grouped.items():
            field_plan = self.field_plan(object_type, key, nodes)
            plan.fields.append(field_plan)
            plan.synchronous = plan.synchronous and field_plan.synchronous
        return plan

    def _collect(self, object_type: GraphQLObjectType, selection_set: SelectionSetNode,
                 grouped: dict[str, list[FieldNode]], spread: set[str]) -> None:
        """The fields of a selection set in response order, as graphql-core collects them
        (without @skip/@include, which are not planned).

        A fragment already spread into this object is not expanded again, as in graphql-core's
        collect_fields: without that, fragments that each spread the previous one twice cost
        2^n visits for a document of n fragments."""
        for selection in selection_set.selections:
            if selection.directives:
                raise NotPlannable("directives")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, object_type):
                    self._collect(object_type, selection.selection_set, grouped, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spread:
                    continue
                spread.add(name)
                fragment = self.fragments.get(name)
                if fragment is None or fragment.directives:
                    raise NotPlannable("fragment")
                if self._applies(fragment.type_condition, object_type):
                    self._collect(object_type, fragment.selection_set, grouped, spread)

    def _applies(self, condition: Any, object_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        condition_type = self.schema.get_type(condition.name.value)
        if condition_type is object_type:
            return True
        if condition_type is None or isinstance(condition_type, GraphQLObjectType):
            return False
        return self.schema.is_sub_type(condition_type, object_type)  # type: ignore[arg-type]

    def field_plan(self, object_type: GraphQLObjectType, key: str,
                   nodes: list[FieldNode]) -> FieldPlan:
        name = nodes[0].name.value
        if name == "__typename":
            return FieldPlan(key, None)
        if name.startswith("__"):
            raise NotPlannable("introspection")
        definition = object_type.fields.get(name)
        strawberry_field = definition.extensions.get(DEFINITION) if definition else None
        if definition is None or not isinstance(strawberry_field, StrawberryField):
            raise NotPlannable(name)
        if strawberry_field.extensions:
            raise NotPlannable("field extensions")
        sub_selections = [n.selection_set for n in nodes if n.selection_set is not None]
        type_plan = self.type_plan(definition.type, sub_selections)
        arguments = self._arguments(definition) if definition.args else None
        resolver = strawberry_field.base_resolver
        if resolver is None:
            non_null = isinstance(type_plan, NonNull)
            leaf = type_plan.inner if isinstance(type_plan, NonNull) else type_plan
            return FieldPlan(key, type_plan, attribute=strawberry_field.python_name,
                             arguments=arguments, synchronous=synchronous(type_plan),
                             leaf_serialize=leaf.serialize if isinstance(leaf, Leaf) else None,
                             non_null=non_null, unchanged_type=_unchanged_type(definition))
        function = resolver.wrapped_func
        if isinstance(function, staticmethod | classmethod) or not callable(function):
            raise NotPlannable("resolver")
        if resolver.is_async and not iscoroutinefunction(function):
            raise NotPlannable("async generator")
        source = resolver.root_parameter or resolver.parent_parameter
        return FieldPlan(
            key, type_plan, resolver=function, is_async=resolver.is_async,
            passes_source=resolver.self_parameter is not None,
            source_keyword=source.name if source else None,
            info_keyword=resolver.info_parameter.name if resolver.info_parameter else None,
            field_definition=definition, field_node=nodes[0], arguments=arguments,
            synchronous=not resolver.is_async and synchronous(type_plan),
        )

    def _arguments(self, definition: GraphQLField) -> dict[str, str]:
        names: dict[str, str] = {}
        for graphql_name, argument in definition.args.items():
            named = argument.type
            while isinstance(named, GraphQLNonNull):
                named = named.of_type
            if not isinstance(named, GraphQLScalarType) or named.name not in BUILT_IN_SCALARS:
                raise NotPlannable("argument type")
            strawberry_argument = argument.extensions.get(DEFINITION)
            python_name = getattr(strawberry_argument, "python_name", None)
            if not python_name:
                raise NotPlannable("argument")
            names[graphql_name] = python_name
        return names

    def type_plan(self, output_type: GraphQLOutputType,
                  selection_sets: list[SelectionSetNode]) -> TypePlan:
        if isinstance(output_type, GraphQLNonNull):
            return NonNull(self.type_plan(output_type.of_type, selection_sets))
        if isinstance(output_type, GraphQLList):
            return ListOf(self.type_plan(output_type.of_type, selection_sets))
        if isinstance(output_type, GraphQLScalarType | GraphQLEnumType):
            return Leaf(output_type.serialize)
        if isinstance(output_type, GraphQLObjectType):
            return self.object_plan(output_type, selection_sets)
        raise NotPlannable(f"abstract type {_name(output_type)}")


# Samples each built-in scalar must serialise to unchanged for its values to be passed through.
UNCHANGED_SAMPLES: dict[str, Any] = {"String": "wardgraph", "ID": "V2FyZDox", "Boolean": True,
                                     "Int": 7}


def _unchanged_type(definition: GraphQLField) -> type | None:
    named = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else (
        definition.type)
    if not isinstance(named, GraphQLScalarType) or named.name not in UNCHANGED_SAMPLES:
        return None
    sample = UNCHANGED_SAMPLES[named.name]
    served = named.serialize(sample)
    return type(sample) if type(served) is type(sample) and served == sample else None


def synchronous(type_plan: TypePlan | None) -> bool:
    """Whether completing a value of this type calls no coroutine function."""
    while isinstance(type_plan, NonNull | ListOf):
        type_plan = type_plan.inner if isinstance(type_plan, NonNull) else type_plan.item
    return not isinstance(type_plan, ObjectPlan) or type_plan.synchronous


def _name(output_type: Any) -> str:
    return output_type.name if isinstance(output_type, GraphQLNamedType) else str(output_type)
