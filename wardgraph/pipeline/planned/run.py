"""Running a plan: the same resolvers the general executor calls, in the same order and as
concurrently (so DataLoaders batch the same way), with none of its per-field machinery.

A plan only produces the happy path. Whatever it cannot reproduce byte for byte (a resolver that
raises, a null in a non-null field, a value of the wrong type, variables that do not coerce) it
abandons with NotPlanned, and the general executor answers the request instead, errors and all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any

from graphql import GraphQLSchema, Undefined
from graphql.execution.values import get_argument_values, get_variable_values

from wardgraph.pipeline.planned.compile import (
    FieldPlan,
    Leaf,
    ListOf,
    NonNull,
    ObjectPlan,
    OperationPlan,
    synchronous,
)


class NotPlanned(Exception):
    """The plan met something only the general executor reproduces."""


class PlannedInfo:
    """What resolvers receive as `info`: they read its `context` only."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


class Run:
    def __init__(self, schema: GraphQLSchema, plan: OperationPlan, context: Any,
                 root_value: Any, raw_variables: dict[str, Any] | None) -> None:
        coerced = get_variable_values(schema, plan.operation.variable_definitions or (),
                                      raw_variables or {})
        if isinstance(coerced, list):
            raise NotPlanned("variables")
        self.variables = coerced
        self.plan = plan
        self.info = PlannedInfo(context)
        self.root_value = root_value

    async def data(self) -> dict[str, Any]:
        return await self.complete_object(self.plan.root, self.root_value)

    # -- objects ---------------------------------------------------------------------------

    async def complete_object(self, plan: ObjectPlan, source: Any) -> dict[str, Any]:
        if plan.synchronous:
            return self.complete_object_now(plan, source)
        out: dict[str, Any] = {}
        pending: list[tuple[FieldPlan, Any]] = []
        for field in plan.fields:
            if field.leaf_serialize is not None:
                out[field.key] = _leaf(field, getattr(source, field.attribute))  # type: ignore[arg-type]
                continue
            if field.type_plan is None:
                out[field.key] = plan.type_name
                continue
            value = self.value_of(field, source)
            if field.synchronous and not isawaitable(value):
                out[field.key] = self.complete_now(field.type_plan, value)
            else:
                out[field.key] = None  # keeps the response order
                pending.append((field, value))
        if len(pending) == 1:
            field, value = pending[0]
            out[field.key] = await self.complete_field(field, value)
        elif pending:
            values = await _all(*(self.complete_field(f, v) for f, v in pending))
            for (field, _), value in zip(pending, values, strict=True):
                out[field.key] = value
        return out

    def complete_object_now(self, plan: ObjectPlan, source: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in plan.fields:
            if field.leaf_serialize is not None:
                out[field.key] = _leaf(field, getattr(source, field.attribute))  # type: ignore[arg-type]
            elif field.type_plan is None:
                out[field.key] = plan.type_name
            else:
                value = self.value_of(field, source)
                if isawaitable(value):
                    raise NotPlanned("awaitable below a synchronous plan")
                out[field.key] = self.complete_now(field.type_plan, value)
        return out

    def value_of(self, field: FieldPlan, source: Any) -> Any:
        if field.resolver is None:
            return getattr(source, field.attribute)  # type: ignore[arg-type]
        return self.resolve(field, source)

    def resolve(self, field: FieldPlan, source: Any) -> Any:
        args: tuple[Any, ...] = (source,) if field.passes_source else ()
        kwargs: dict[str, Any] = {}
        if field.source_keyword:
            kwargs[field.source_keyword] = source
        if field.info_keyword:
            kwargs[field.info_keyword] = self.info
        if field.arguments:
            given = get_argument_values(field.field_definition, field.field_node,  # type: ignore[arg-type]
                                        self.variables)
            for graphql_name, value in given.items():
                kwargs[field.arguments[graphql_name]] = value
        return field.resolver(*args, **kwargs)  # type: ignore[misc]

    async def complete_field(self, field: FieldPlan, value: Any) -> Any:
        if isawaitable(value):
            value = await value
        return await self.complete(field.type_plan, value)

    # -- values ----------------------------------------------------------------------------

    async def complete(self, plan: Any, value: Any) -> Any:
        if synchronous(plan):
            return self.complete_now(plan, value)
        plan = _nullable(plan, value)
        if value is None:
            return None
        if isinstance(plan, ListOf):
            return await _all(*(self.complete(plan.item, item) for item in _items(value)))
        _check_type(plan, value)
        return await self.complete_object(plan, value)

    def complete_now(self, plan: Any, value: Any) -> Any:
        plan = _nullable(plan, value)
        if value is None:
            return None
        if isinstance(plan, Leaf):
            return _serialize(plan, value)
        if isinstance(plan, ListOf):
            return [self.complete_now(plan.item, item) for item in _items(value)]
        _check_type(plan, value)
        return self.complete_object_now(plan, value)


def _nullable(plan: Any, value: Any) -> Any:
    """The plan inside NonNull; a null there is an error, which the general executor words."""
    if isinstance(plan, NonNull):
        if value is None:
            raise NotPlanned("null in a non-null field")
        return plan.inner
    return plan


# GraphQL's Int is 32-bit; a larger int is an error the general executor words.
INT_RANGE = range(-(2**31), 2**31)


def _leaf(field: FieldPlan, value: Any) -> Any:
    if value is None:
        if field.non_null:
            raise NotPlanned("null in a non-null field")
        return None
    if type(value) is field.unchanged_type and (type(value) is not int or value in INT_RANGE):
        return value
    return _served(field.leaf_serialize, value)  # type: ignore[arg-type]


def _serialize(plan: Leaf, value: Any) -> Any:
    return _served(plan.serialize, value)


def _served(serialize: Callable[[Any], Any], value: Any) -> Any:
    """The scalar's own serialisation; a value it refuses is the general executor's to word."""
    try:
        serialized = serialize(value)
    except Exception as refused:
        raise NotPlanned("unserializable") from refused
    if serialized is None or serialized is Undefined:
        raise NotPlanned("unserializable")
    return serialized


def _items(value: Any) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise NotPlanned("not a list")
    return value


def _check_type(plan: ObjectPlan, value: Any) -> None:
    if plan.is_type_of is not None and plan.is_type_of(value, None) is not True:
        raise NotPlanned("wrong type")  # or an asynchronous check, which strawberry never makes


async def _all(*awaitables: Awaitable[Any]) -> list[Any]:
    """Every result, or the first error once every sibling has settled: nothing the plan started
    is still running (or still appending audit events) when the general executor takes over."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
